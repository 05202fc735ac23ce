"""The multilingual case table: (language, text, query, whether it matches).

Shared by ``test_multilingual.py`` (the engine, the ``match`` command and a YAML rules
file): nine languages, each with inflections folded, entities in that language, a
phrase kept exact and a ``lang:`` rule, and what must not match.
"""

from __future__ import annotations

#: (language, text, query, matches)
CASES: list[tuple[str, str, str, bool]] = [
    # Spanish
    ("es", "El Gobierno anunció nuevas sanciones contra Teherán.", "sanción", True),
    ("es", "El Gobierno anunció nuevas sanciones contra Teherán.", "@Iran", True),
    ("es", "Los diplomáticos iraníes llegaron a Madrid.", "@Iran AND @Spain", True),
    ("es", "Irán envió drones a Rusia.", "lang:es AND @Iran AND @Russia AND drones", True),
    ("es", "Irán envió drones a Rusia.", "lang:fr AND @Iran", False),
    ("es", "Las sanciones económicas siguen.", '"sanción"', False),
    ("es", "Comió chile con carne.", "@Chile", False),
    # French
    ("fr", "Les autorités iraniennes ont annoncé des sanctions.", "@Iran", True),
    ("fr", "Les élections législatives ont eu lieu dimanche.", "élection", True),
    ("fr", "L'Allemagne et la Russie ont signé un accord.", "@Germany AND @Russia", True),
    (
        "fr",
        "Les élections législatives ont eu lieu dimanche.",
        "lang:(es OR pt) AND élection",
        False,
    ),
    # German
    (
        "de",
        "Die Sanktionen Russlands gegen die Ukraine wurden verschärft.",
        "@Russia AND @Ukraine",
        True,
    ),
    ("de", "Die iranischen Drohnen wurden in Moskau eingesetzt.", "@Iran NEAR/3 Drohne", True),
    ("de", "Der Bundeskanzler sprach über neue Sanktionen.", "Sanktion", True),
    # Italian
    ("it", "Il governo iraniano ha annunciato nuove sanzioni.", "@Iran AND sanzione", True),
    ("it", "Le truppe russe sono entrate a Kiev.", "@Russia AND @Ukraine", True),
    # Portuguese
    (
        "pt",
        "O governo brasileiro criticou as sanções contra a Rússia.",
        "@Brazil AND @Russia",
        True,
    ),
    ("pt", "Comemos peru no Natal.", "@Peru", False),
    # Russian
    (
        "ru",
        "Правительство Ирана объявило о новых санкциях против России.",
        "@Iran AND @Russia",
        True,
    ),
    ("ru", "Министр прилетел в Тегеран после переговоров в Москве.", "@Iran AND @Russia", True),
    ("ru", "Новые санкции против Ирана.", "санкция", True),
    ("ru", "Новые санкции против Ирана.", "lang:ru AND @Iran AND NOT @China", True),
    # Arabic
    ("ar", "أعلنت الحكومة الإيرانية عن عقوبات جديدة ضد روسيا.", "@Iran AND @Russia", True),
    ("ar", "وصل الوفد إلى طهران أمس.", "@Iran", True),
    # Chinese
    ("zh", "伊朗政府宣布对俄罗斯实施新的制裁。", "伊朗 AND 俄罗斯", True),
    ("zh", "伊朗政府宣布对俄罗斯实施新的制裁。", '"伊朗"', True),
    ("zh", "伊朗政府宣布对俄罗斯实施新的制裁。", "@Iran AND @Russia", True),
    ("zh", "印度尼西亚总统访问北京。", "@Indonesia AND @China", True),
    ("zh", "印度尼西亚总统访问北京。", "@India", False),
    # Japanese
    ("ja", "イラン政府はロシアに対する新たな制裁を発表した。", "@Iran AND @Russia", True),
    ("ja", "イラン政府はロシアに対する新たな制裁を発表した。", '"制裁"', True),
    ("ja", "日本の首相が北京を訪問した。", "@Japan AND @China", True),
    # English stays as it was
    ("en", "Iran sent drones to Russia.", "@Iran AND @Russia AND drone", True),
    ("en", "Irán envió drones a Rusia.", "@Russia", False),
    ("", "Iranian drones", "lang:en AND drone", False),
]
