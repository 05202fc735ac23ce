# ruff: noqa: E501  (tables: one entity per line reads best)
"""Hand-made tables for ``scripts/entity_names.py``: what CLDR does not have.

- ``DEMONYMS``: the demonym of the countries most in the news, one base form per language
  (masculine singular adjective; the German and Russian noun too). The matcher folds
  them with the language's stemmer, so plurals and feminines follow (*iraní* ->
  *iraníes*, *iranien* -> *iraniennes*, *иранский* -> *иранского*).
- ``ORGANIZATIONS``: the names and acronyms of the international organizations in each
  language (CLDR has none).
- ``CAPITALS``: capitals whose name CLDR does not give (no time zone is named after them).
- ``EXTRA_NAMES``: other names in common use (*EE.UU.*, *米国*, *俄国*).
- ``AMBIGUOUS``: names left out in one language because they mostly mean something else
  there (Spanish *Granada*, the city; French *Maurice*, the first name).
"""

from __future__ import annotations

# fmt: off
DEMONYMS: dict[str, dict[str, list[str]]] = {
    "United States": {"es": ["estadounidense", "norteamericano"], "fr": ["américain"], "de": ["amerikanisch", "Amerikaner", "US-amerikanisch"], "it": ["statunitense", "americano"], "pt": ["americano", "norte-americano", "estadunidense"], "ru": ["американский", "американец"], "ar": ["الأمريكي", "أمريكي", "الأميركي"], "nl": ["Amerikaans", "Amerikaan"]},
    "United Kingdom": {"es": ["británico"], "fr": ["britannique"], "de": ["britisch", "Brite"], "it": ["britannico"], "pt": ["britânico"], "ru": ["британский", "британец"], "ar": ["البريطاني", "بريطاني"], "nl": ["Brits", "Brit"]},
    "China": {"es": ["chino"], "fr": ["chinois"], "de": ["chinesisch", "Chinese"], "it": ["cinese"], "pt": ["chinês"], "ru": ["китайский", "китаец"], "ar": ["الصيني", "صيني"], "nl": ["Chinees"]},
    "Russia": {"es": ["ruso"], "fr": ["russe"], "de": ["russisch", "Russe"], "it": ["russo"], "pt": ["russo"], "ru": ["российский", "русский", "россиянин"], "ar": ["الروسي", "روسي"], "nl": ["Russisch", "Rus"]},
    "Ukraine": {"es": ["ucraniano"], "fr": ["ukrainien"], "de": ["ukrainisch", "Ukrainer"], "it": ["ucraino"], "pt": ["ucraniano"], "ru": ["украинский", "украинец"], "ar": ["الأوكراني", "أوكراني"], "nl": ["Oekraïens", "Oekraïner"]},
    "Iran": {"es": ["iraní"], "fr": ["iranien"], "de": ["iranisch", "Iraner"], "it": ["iraniano"], "pt": ["iraniano"], "ru": ["иранский", "иранец"], "ar": ["الإيراني", "إيراني"], "nl": ["Iraans", "Iraniër"]},
    "Israel": {"es": ["israelí"], "fr": ["israélien"], "de": ["israelisch", "Israeli"], "it": ["israeliano"], "pt": ["israelense", "israelita"], "ru": ["израильский", "израильтянин"], "ar": ["الإسرائيلي", "إسرائيلي"], "nl": ["Israëlisch", "Israëliër"]},
    "Palestine": {"es": ["palestino"], "fr": ["palestinien"], "de": ["palästinensisch", "Palästinenser"], "it": ["palestinese"], "pt": ["palestino"], "ru": ["палестинский", "палестинец"], "ar": ["الفلسطيني", "فلسطيني"], "nl": ["Palestijns", "Palestijn"]},
    "Germany": {"es": ["alemán"], "fr": ["allemand"], "de": ["deutsch", "Deutsche"], "it": ["tedesco"], "pt": ["alemão"], "ru": ["немецкий", "германский", "немец"], "ar": ["الألماني", "ألماني"], "nl": ["Duits", "Duitser"]},
    "France": {"es": ["francés"], "fr": ["français"], "de": ["französisch", "Franzose"], "it": ["francese"], "pt": ["francês"], "ru": ["французский", "француз"], "ar": ["الفرنسي", "فرنسي"], "nl": ["Frans", "Fransman"]},
    "Japan": {"es": ["japonés"], "fr": ["japonais"], "de": ["japanisch", "Japaner"], "it": ["giapponese"], "pt": ["japonês"], "ru": ["японский", "японец"], "ar": ["الياباني", "ياباني"], "nl": ["Japans", "Japanner"]},
    "India": {"es": ["indio", "hindú"], "fr": ["indien"], "de": ["indisch", "Inder"], "it": ["indiano"], "pt": ["indiano"], "ru": ["индийский", "индиец"], "ar": ["الهندي", "هندي"], "nl": ["Indiaas", "Indiër"]},
    "Turkey": {"es": ["turco"], "fr": ["turc"], "de": ["türkisch", "Türke"], "it": ["turco"], "pt": ["turco"], "ru": ["турецкий", "турок"], "ar": ["التركي", "تركي"], "nl": ["Turks", "Turk"]},
    "Syria": {"es": ["sirio"], "fr": ["syrien"], "de": ["syrisch", "Syrer"], "it": ["siriano"], "pt": ["sírio"], "ru": ["сирийский", "сириец"], "ar": ["السوري", "سوري"], "nl": ["Syrisch", "Syriër"]},
    "Iraq": {"es": ["iraquí"], "fr": ["irakien"], "de": ["irakisch", "Iraker"], "it": ["iracheno"], "pt": ["iraquiano"], "ru": ["иракский", "иракец"], "ar": ["العراقي", "عراقي"], "nl": ["Iraaks", "Irakees"]},
    "Saudi Arabia": {"es": ["saudí", "saudita"], "fr": ["saoudien"], "de": ["saudisch", "Saudi"], "it": ["saudita"], "pt": ["saudita"], "ru": ["саудовский"], "ar": ["السعودي", "سعودي"], "nl": ["Saudisch", "Saoediër"]},
    "North Korea": {"es": ["norcoreano"], "fr": ["nord-coréen"], "de": ["nordkoreanisch", "Nordkoreaner"], "it": ["nordcoreano"], "pt": ["norte-coreano"], "ru": ["северокорейский"], "ar": ["الكوري الشمالي"], "nl": ["Noord-Koreaans"]},
    "South Korea": {"es": ["surcoreano"], "fr": ["sud-coréen"], "de": ["südkoreanisch", "Südkoreaner"], "it": ["sudcoreano"], "pt": ["sul-coreano"], "ru": ["южнокорейский"], "ar": ["الكوري الجنوبي"], "nl": ["Zuid-Koreaans"]},
    "Italy": {"es": ["italiano"], "fr": ["italien"], "de": ["italienisch", "Italiener"], "it": ["italiano"], "pt": ["italiano"], "ru": ["итальянский", "итальянец"], "ar": ["الإيطالي", "إيطالي"], "nl": ["Italiaans", "Italiaan"]},
    "Spain": {"es": ["español"], "fr": ["espagnol"], "de": ["spanisch", "Spanier"], "it": ["spagnolo"], "pt": ["espanhol"], "ru": ["испанский", "испанец"], "ar": ["الإسباني", "إسباني"], "nl": ["Spaans", "Spanjaard"]},
    "Brazil": {"es": ["brasileño"], "fr": ["brésilien"], "de": ["brasilianisch", "Brasilianer"], "it": ["brasiliano"], "pt": ["brasileiro"], "ru": ["бразильский", "бразилец"], "ar": ["البرازيلي", "برازيلي"], "nl": ["Braziliaans", "Braziliaan"]},
    "Mexico": {"es": ["mexicano"], "fr": ["mexicain"], "de": ["mexikanisch", "Mexikaner"], "it": ["messicano"], "pt": ["mexicano"], "ru": ["мексиканский", "мексиканец"], "ar": ["المكسيكي", "مكسيكي"], "nl": ["Mexicaans", "Mexicaan"]},
    "Canada": {"es": ["canadiense"], "fr": ["canadien"], "de": ["kanadisch", "Kanadier"], "it": ["canadese"], "pt": ["canadense", "canadiano"], "ru": ["канадский", "канадец"], "ar": ["الكندي", "كندي"], "nl": ["Canadees"]},
    "Egypt": {"es": ["egipcio"], "fr": ["égyptien"], "de": ["ägyptisch", "Ägypter"], "it": ["egiziano"], "pt": ["egípcio"], "ru": ["египетский", "египтянин"], "ar": ["المصري", "مصري"], "nl": ["Egyptisch", "Egyptenaar"]},
    "Afghanistan": {"es": ["afgano"], "fr": ["afghan"], "de": ["afghanisch", "Afghane"], "it": ["afghano"], "pt": ["afegão"], "ru": ["афганский", "афганец"], "ar": ["الأفغاني", "أفغاني"], "nl": ["Afghaans", "Afghaan"]},
    "Pakistan": {"es": ["pakistaní"], "fr": ["pakistanais"], "de": ["pakistanisch", "Pakistaner"], "it": ["pakistano"], "pt": ["paquistanês"], "ru": ["пакистанский", "пакистанец"], "ar": ["الباكستاني", "باكستاني"], "nl": ["Pakistaans", "Pakistaan"]},
    "Poland": {"es": ["polaco"], "fr": ["polonais"], "de": ["polnisch", "Pole"], "it": ["polacco"], "pt": ["polonês", "polaco"], "ru": ["польский", "поляк"], "ar": ["البولندي", "بولندي"], "nl": ["Pools", "Polen"]},
    "Venezuela": {"es": ["venezolano"], "fr": ["vénézuélien"], "de": ["venezolanisch", "Venezolaner"], "it": ["venezuelano"], "pt": ["venezuelano"], "ru": ["венесуэльский"], "ar": ["الفنزويلي", "فنزويلي"], "nl": ["Venezolaans"]},
    "Lebanon": {"es": ["libanés"], "fr": ["libanais"], "de": ["libanesisch", "Libanese"], "it": ["libanese"], "pt": ["libanês"], "ru": ["ливанский", "ливанец"], "ar": ["اللبناني", "لبناني"], "nl": ["Libanees"]},
    "Yemen": {"es": ["yemení"], "fr": ["yéménite"], "de": ["jemenitisch", "Jemenit"], "it": ["yemenita"], "pt": ["iemenita"], "ru": ["йеменский"], "ar": ["اليمني", "يمني"], "nl": ["Jemenitisch"]},
}

ORGANIZATIONS: dict[str, dict[str, list[str]]] = {
    "United Nations": {"es": ["ONU", "Naciones Unidas"], "fr": ["ONU", "Nations unies"], "de": ["UNO", "Vereinte Nationen", "Vereinten Nationen"], "it": ["ONU", "Nazioni Unite"], "pt": ["ONU", "Nações Unidas"], "ru": ["ООН", "Организация Объединённых Наций"], "ar": ["الأمم المتحدة"], "zh": ["联合国", "聯合國"], "ja": ["国連", "国際連合"], "ko": ["유엔", "국제연합"], "tr": ["BM", "Birleşmiş Milletler"], "nl": ["VN", "Verenigde Naties"], "pl": ["ONZ"], "uk": ["ООН"], "fa": ["سازمان ملل"], "hi": ["संयुक्त राष्ट्र"], "id": ["PBB", "Perserikatan Bangsa-Bangsa"]},
    "NATO": {"es": ["OTAN"], "fr": ["OTAN"], "de": ["NATO", "Nato"], "it": ["NATO", "Nato"], "pt": ["OTAN", "NATO"], "ru": ["НАТО"], "ar": ["الناتو", "حلف شمال الأطلسي"], "zh": ["北约", "北約"], "ja": ["北大西洋条約機構"], "ko": ["나토"], "tr": ["NATO"], "nl": ["NAVO"], "pl": ["NATO"], "uk": ["НАТО"], "fa": ["ناتو"], "el": ["ΝΑΤΟ"]},
    "European Union": {"es": ["UE", "Unión Europea"], "fr": ["UE", "Union européenne"], "de": ["EU", "Europäische Union", "Europäischen Union"], "it": ["UE", "Unione europea"], "pt": ["UE", "União Europeia"], "ru": ["ЕС", "Евросоюз", "Европейский союз"], "ar": ["الاتحاد الأوروبي"], "zh": ["欧盟", "歐盟"], "ja": ["欧州連合"], "ko": ["유럽연합"], "tr": ["AB", "Avrupa Birliği"], "nl": ["EU", "Europese Unie"], "pl": ["UE", "Unia Europejska"], "uk": ["ЄС", "Євросоюз"]},
    "WHO": {"es": ["OMS"], "fr": ["OMS"], "de": ["WHO", "Weltgesundheitsorganisation"], "it": ["OMS"], "pt": ["OMS"], "ru": ["ВОЗ"], "ar": ["منظمة الصحة العالمية"], "zh": ["世卫组织", "世界卫生组织"], "ja": ["世界保健機関"], "ko": ["세계보건기구"], "tr": ["DSÖ", "Dünya Sağlık Örgütü"], "nl": ["WHO", "Wereldgezondheidsorganisatie"]},
    "IMF": {"es": ["FMI"], "fr": ["FMI"], "de": ["IWF"], "it": ["FMI"], "pt": ["FMI"], "ru": ["МВФ"], "ar": ["صندوق النقد الدولي"], "zh": ["国际货币基金组织"], "ja": ["国際通貨基金"], "ko": ["국제통화기금"], "tr": ["IMF"], "nl": ["IMF"]},
    "World Bank": {"es": ["Banco Mundial"], "fr": ["Banque mondiale"], "de": ["Weltbank"], "it": ["Banca Mondiale"], "pt": ["Banco Mundial"], "ru": ["Всемирный банк"], "ar": ["البنك الدولي"], "zh": ["世界银行"], "ja": ["世界銀行"], "nl": ["Wereldbank"]},
    "OPEC": {"es": ["OPEP"], "fr": ["OPEP"], "de": ["OPEC", "Opec"], "it": ["OPEC", "Opec"], "pt": ["OPEP"], "ru": ["ОПЕК"], "ar": ["أوبك"], "zh": ["欧佩克"], "ja": ["石油輸出国機構"], "nl": ["OPEC"]},
    "WTO": {"es": ["OMC"], "fr": ["OMC"], "de": ["WTO", "Welthandelsorganisation"], "it": ["OMC"], "pt": ["OMC"], "ru": ["ВТО"], "ar": ["منظمة التجارة العالمية"], "zh": ["世贸组织", "世界贸易组织"], "ja": ["世界貿易機関"]},
    "IAEA": {"es": ["OIEA"], "fr": ["AIEA"], "de": ["IAEA", "IAEO"], "it": ["AIEA"], "pt": ["AIEA"], "ru": ["МАГАТЭ"], "ar": ["الوكالة الدولية للطاقة الذرية"], "zh": ["国际原子能机构"], "ja": ["国際原子力機関"]},
    "European Central Bank": {"es": ["BCE", "Banco Central Europeo"], "fr": ["BCE", "Banque centrale européenne"], "de": ["EZB", "Europäische Zentralbank"], "it": ["BCE", "Banca centrale europea"], "pt": ["BCE", "Banco Central Europeu"], "ru": ["ЕЦБ"], "ar": ["البنك المركزي الأوروبي"], "zh": ["欧洲央行"], "ja": ["欧州中央銀行"]},
    "African Union": {"es": ["Unión Africana"], "fr": ["Union africaine"], "de": ["Afrikanische Union"], "it": ["Unione africana"], "pt": ["União Africana"], "ru": ["Африканский союз"], "ar": ["الاتحاد الأفريقي"], "zh": ["非洲联盟", "非盟"]},
    "Arab League": {"es": ["Liga Árabe"], "fr": ["Ligue arabe"], "de": ["Arabische Liga"], "it": ["Lega araba"], "pt": ["Liga Árabe"], "ru": ["Лига арабских государств"], "ar": ["جامعة الدول العربية", "الجامعة العربية"], "zh": ["阿拉伯国家联盟", "阿盟"]},
    "International Committee of the Red Cross": {"es": ["Cruz Roja"], "fr": ["Croix-Rouge"], "de": ["Rotes Kreuz", "Roten Kreuz"], "it": ["Croce Rossa"], "pt": ["Cruz Vermelha"], "ru": ["Красный Крест"], "ar": ["الصليب الأحمر"], "zh": ["红十字"], "ja": ["赤十字"]},
    "ICC": {"es": ["Corte Penal Internacional", "CPI"], "fr": ["Cour pénale internationale", "CPI"], "de": ["Internationaler Strafgerichtshof", "IStGH"], "it": ["Corte penale internazionale", "CPI"], "pt": ["Tribunal Penal Internacional", "TPI"], "ru": ["Международный уголовный суд", "МУС"], "ar": ["المحكمة الجنائية الدولية"], "zh": ["国际刑事法院"]},
    "UNHCR": {"es": ["ACNUR"], "fr": ["HCR"], "de": ["UNHCR"], "it": ["UNHCR"], "pt": ["ACNUR"], "ru": ["УВКБ ООН"], "ar": ["المفوضية السامية للأمم المتحدة لشؤون اللاجئين"], "zh": ["联合国难民署"]},
    "UNICEF": {"es": ["UNICEF", "Unicef"], "fr": ["UNICEF", "Unicef"], "de": ["UNICEF", "Unicef"], "it": ["UNICEF", "Unicef"], "pt": ["UNICEF", "Unicef"], "ru": ["ЮНИСЕФ"], "ar": ["اليونيسف"], "zh": ["联合国儿童基金会"]},
}
# fmt: on

#: Capitals without a time zone named after them: entity key -> language -> names.
CAPITALS: dict[str, dict[str, list[str]]] = {
    "China": {
        "es": ["Pekín"],
        "fr": ["Pékin"],
        "de": ["Peking"],
        "it": ["Pechino"],
        "pt": ["Pequim"],
        "ru": ["Пекин"],
        "ar": ["بكين"],
        "zh": ["北京"],
        "ja": ["北京"],
        "nl": ["Peking"],
    },
    "United States": {
        "es": ["Washington"],
        "fr": ["Washington"],
        "de": ["Washington"],
        "it": ["Washington"],
        "pt": ["Washington"],
        "ru": ["Вашингтон"],
        "ar": ["واشنطن"],
        "zh": ["华盛顿", "華盛頓"],
        "ja": ["ワシントン"],
        "nl": ["Washington"],
    },
    "India": {
        "es": ["Nueva Delhi"],
        "fr": ["New Delhi"],
        "de": ["Neu-Delhi"],
        "it": ["Nuova Delhi"],
        "pt": ["Nova Déli"],
        "ru": ["Нью-Дели"],
        "ar": ["نيودلهي"],
        "zh": ["新德里"],
        "ja": ["ニューデリー"],
    },
    "Turkey": {
        "es": ["Ankara"],
        "fr": ["Ankara"],
        "de": ["Ankara"],
        "it": ["Ankara"],
        "pt": ["Ancara"],
        "ru": ["Анкара"],
        "ar": ["أنقرة"],
        "zh": ["安卡拉"],
        "ja": ["アンカラ"],
    },
    "Brazil": {
        "es": ["Brasilia"],
        "fr": ["Brasilia"],
        "de": ["Brasília"],
        "it": ["Brasilia"],
        "pt": ["Brasília"],
        "ru": ["Бразилиа"],
        "ar": ["برازيليا"],
        "zh": ["巴西利亚"],
    },
    "Canada": {
        "es": ["Ottawa"],
        "fr": ["Ottawa"],
        "de": ["Ottawa"],
        "it": ["Ottawa"],
        "pt": ["Ottawa"],
        "ru": ["Оттава"],
        "ar": ["أوتاوا"],
        "zh": ["渥太华"],
        "ja": ["オタワ"],
    },
    "Israel": {
        "es": ["Tel Aviv"],
        "fr": ["Tel-Aviv"],
        "de": ["Tel Aviv"],
        "it": ["Tel Aviv"],
        "pt": ["Tel Aviv"],
        "ru": ["Тель-Авив"],
        "ar": ["تل أبيب"],
        "zh": ["特拉维夫"],
        "ja": ["テルアビブ"],
    },
    "Pakistan": {
        "es": ["Islamabad"],
        "fr": ["Islamabad"],
        "de": ["Islamabad"],
        "it": ["Islamabad"],
        "pt": ["Islamabad"],
        "ru": ["Исламабад"],
        "ar": ["إسلام آباد"],
        "zh": ["伊斯兰堡"],
        "ja": ["イスラマバード"],
    },
}

#: (language, name): left out, the name mostly means something else in that language.
AMBIGUOUS = frozenset(
    {
        ("es", "Granada"),  # Grenada: the Spanish city
        ("fr", "Maurice"),  # Mauritius: a first name
        ("ru", "Того"),  # Togo: "того", of that
    }
)
#: (language, name): kept, but case-sensitive (also a lower-case common word there).
CASE_SENSITIVE = frozenset(
    {
        ("es", "Chile"),  # chile, the pepper
        ("pt", "Peru"),  # peru, the turkey
        ("es", "Jersey"),  # jersey, a sweater
        ("fr", "Jersey"),
        ("ru", "Чад"),  # чад, fumes
        ("ru", "Мали"),
    }
)

#: Other names in common use: entity key -> language -> names.
EXTRA_NAMES: dict[str, dict[str, list[str]]] = {
    "United States": {
        "es": ["EE.UU.", "EEUU", "EE. UU."],
        "pt": ["EUA"],
        "fr": ["USA"],
        "de": ["USA", "Vereinigten Staaten"],
        "it": ["USA"],
        "ja": ["米国", "アメリカ"],
        "ru": ["США", "Соединённых Штатов", "Соединенных Штатов"],
        "zh": ["美方"],
    },
    "United Kingdom": {"de": ["Großbritannien"], "ja": ["英国"], "zh": ["英方"]},
    "Russia": {"pt": ["Moscovo"], "zh": ["俄国"]},
    "Ukraine": {"ja": ["キエフ"], "zh": ["基輔"]},
    "China": {"zh": ["中方"], "de": ["Volksrepublik China"]},
}
