"""The generated multilingual set of ``benchmarks/multilingual.py``: hand-written forms
of ten countries in ten languages, as running text writes them (cases, clitics, plural
and feminine demonyms, capitals), and sentence templates to put them in.

The forms were written for this set, not taken from the catalog: many are not in it
(German *Irans*, Spanish *iraníes*, Arabic *وإيران*, Chinese *俄国*), which is what the
recall measures. ``NEGATIVES`` name no country of the ten; some are traps (a surname
*Francés*, *Berliner* doughnuts, the *peru* of a Christmas dinner, Paris Saint-Germain).
"""

from __future__ import annotations

COUNTRIES = (
    "Iran",
    "Russia",
    "China",
    "Germany",
    "France",
    "Ukraine",
    "Israel",
    "Turkey",
    "Japan",
    "United States",
)

#: language -> country -> (names, demonyms, capitals), one list per kind of form.
FORMS: dict[str, dict[str, tuple[list[str], list[str], list[str]]]] = {
    "en": {
        "Iran": (["Iran"], ["Iranian", "Iranians"], ["Tehran"]),
        "Russia": (["Russia"], ["Russian", "Russians"], ["Moscow"]),
        "China": (["China"], ["Chinese"], ["Beijing"]),
        "Germany": (["Germany"], ["German", "Germans"], ["Berlin"]),
        "France": (["France"], ["French"], ["Paris"]),
        "Ukraine": (["Ukraine"], ["Ukrainian", "Ukrainians"], ["Kyiv"]),
        "Israel": (["Israel"], ["Israeli", "Israelis"], ["Jerusalem"]),
        "Turkey": (["Turkey"], ["Turkish"], ["Ankara"]),
        "Japan": (["Japan"], ["Japanese"], ["Tokyo"]),
        "United States": (["United States", "US"], ["American", "Americans"], ["Washington"]),
    },
    "es": {
        "Iran": (["Irán"], ["iraní", "iraníes"], ["Teherán"]),
        "Russia": (["Rusia"], ["ruso", "rusa", "rusos"], ["Moscú"]),
        "China": (["China"], ["chino", "chinos", "chinas"], ["Pekín"]),
        "Germany": (["Alemania"], ["alemán", "alemana", "alemanes"], ["Berlín"]),
        "France": (["Francia"], ["francés", "francesa", "franceses"], ["París"]),
        "Ukraine": (["Ucrania"], ["ucraniano", "ucranianas"], ["Kiev"]),
        "Israel": (["Israel"], ["israelí", "israelíes"], ["Jerusalén"]),
        "Turkey": (["Turquía"], ["turco", "turcas"], ["Ankara"]),
        "Japan": (["Japón"], ["japonés", "japoneses", "japonesa"], ["Tokio"]),
        "United States": (
            ["Estados Unidos", "EE.UU."],
            ["estadounidense", "estadounidenses"],
            ["Washington"],
        ),
    },
    "fr": {
        "Iran": (
            ["Iran", "l'Iran"],
            ["iranien", "iranienne", "iraniens", "iraniennes"],
            ["Téhéran"],
        ),
        "Russia": (["Russie"], ["russe", "russes"], ["Moscou"]),
        "China": (["Chine"], ["chinois", "chinoise", "chinoises"], ["Pékin"]),
        "Germany": (["Allemagne"], ["allemand", "allemande", "allemands"], ["Berlin"]),
        "France": (["France"], ["français", "française", "françaises"], ["Paris"]),
        "Ukraine": (["Ukraine"], ["ukrainien", "ukrainienne", "ukrainiens"], ["Kiev"]),
        "Israel": (["Israël"], ["israélien", "israélienne", "israéliens"], ["Jérusalem"]),
        "Turkey": (["Turquie"], ["turc", "turque", "turcs"], ["Ankara"]),
        "Japan": (["Japon"], ["japonais", "japonaise"], ["Tokyo"]),
        "United States": (
            ["États-Unis"],
            ["américain", "américaine", "américains"],
            ["Washington"],
        ),
    },
    "de": {
        "Iran": (["Iran", "Irans"], ["iranische", "iranischen", "Iraner"], ["Teheran"]),
        "Russia": (["Russland", "Russlands"], ["russische", "russischen", "Russen"], ["Moskau"]),
        "China": (["China", "Chinas"], ["chinesische", "chinesischen", "Chinesen"], ["Peking"]),
        "Germany": (["Deutschland", "Deutschlands"], ["deutsche", "deutschen"], ["Berlin"]),
        "France": (
            ["Frankreich", "Frankreichs"],
            ["französische", "französischen", "Franzosen"],
            ["Paris"],
        ),
        "Ukraine": (["Ukraine"], ["ukrainische", "ukrainischen", "Ukrainer"], ["Kiew"]),
        "Israel": (
            ["Israel", "Israels"],
            ["israelische", "israelischen", "Israelis"],
            ["Jerusalem"],
        ),
        "Turkey": (["Türkei"], ["türkische", "türkischen", "Türken"], ["Ankara"]),
        "Japan": (["Japan", "Japans"], ["japanische", "japanischen", "Japaner"], ["Tokio"]),
        "United States": (
            ["USA", "Vereinigten Staaten"],
            ["amerikanische", "amerikanischen", "US-amerikanische"],
            ["Washington"],
        ),
    },
    "it": {
        "Iran": (["Iran"], ["iraniano", "iraniana", "iraniani"], ["Teheran"]),
        "Russia": (["Russia"], ["russo", "russi", "russe"], ["Mosca"]),
        "China": (["Cina"], ["cinese", "cinesi"], ["Pechino"]),
        "Germany": (["Germania"], ["tedesco", "tedesca", "tedeschi"], ["Berlino"]),
        "France": (["Francia"], ["francese", "francesi"], ["Parigi"]),
        "Ukraine": (["Ucraina"], ["ucraino", "ucraini"], ["Kiev"]),
        "Israel": (["Israele"], ["israeliano", "israeliani"], ["Gerusalemme"]),
        "Turkey": (["Turchia"], ["turco", "turca", "turchi"], ["Ankara"]),
        "Japan": (["Giappone"], ["giapponese", "giapponesi"], ["Tokyo"]),
        "United States": (["Stati Uniti", "USA"], ["statunitense", "americani"], ["Washington"]),
    },
    "pt": {
        "Iran": (["Irã", "Irão"], ["iraniano", "iraniana", "iranianos"], ["Teerã"]),
        "Russia": (["Rússia"], ["russo", "russa", "russos"], ["Moscou", "Moscovo"]),
        "China": (["China"], ["chinês", "chinesa", "chineses"], ["Pequim"]),
        "Germany": (["Alemanha"], ["alemão", "alemã", "alemães"], ["Berlim"]),
        "France": (["França"], ["francês", "francesa", "franceses"], ["Paris"]),
        "Ukraine": (["Ucrânia"], ["ucraniano", "ucranianos"], ["Kiev"]),
        "Israel": (["Israel"], ["israelense", "israelenses"], ["Jerusalém"]),
        "Turkey": (["Turquia"], ["turco", "turca", "turcos"], ["Ancara"]),
        "Japan": (["Japão"], ["japonês", "japonesa", "japoneses"], ["Tóquio"]),
        "United States": (
            ["Estados Unidos", "EUA"],
            ["americano", "norte-americano", "americanos"],
            ["Washington"],
        ),
    },
    "ru": {
        "Iran": (
            ["Иран", "Ирана", "Ирану", "Ираном", "Иране"],
            ["иранский", "иранского", "иранские", "иранским"],
            ["Тегеран", "Тегеране"],
        ),
        "Russia": (
            ["Россия", "России", "Россию", "Россией"],
            ["российский", "российского", "российские", "русские"],
            ["Москва", "Москве", "Москвы"],
        ),
        "China": (
            ["Китай", "Китая", "Китаю", "Китаем", "Китае"],
            ["китайский", "китайские", "китайского"],
            ["Пекин", "Пекине"],
        ),
        "Germany": (
            ["Германия", "Германии", "Германию"],
            ["немецкий", "немецкие", "германского"],
            ["Берлин", "Берлине"],
        ),
        "France": (
            ["Франция", "Франции", "Францию"],
            ["французский", "французские"],
            ["Париж", "Париже"],
        ),
        "Ukraine": (
            ["Украина", "Украины", "Украине", "Украину"],
            ["украинский", "украинские", "украинского"],
            ["Киев", "Киеве"],
        ),
        "Israel": (
            ["Израиль", "Израиля", "Израилем"],
            ["израильский", "израильские"],
            ["Иерусалим", "Иерусалиме"],
        ),
        "Turkey": (["Турция", "Турции", "Турцию"], ["турецкий", "турецкие"], ["Анкара", "Анкаре"]),
        "Japan": (["Япония", "Японии", "Японию"], ["японский", "японские"], ["Токио"]),
        "United States": (
            ["США", "Соединённые Штаты", "Соединенных Штатов"],
            ["американский", "американские", "американского"],
            ["Вашингтон", "Вашингтоне"],
        ),
    },
    "ar": {
        "Iran": (
            ["إيران", "وإيران", "لإيران"],
            ["الإيراني", "الإيرانية", "الإيرانيين"],
            ["طهران", "بطهران"],
        ),
        "Russia": (["روسيا", "وروسيا"], ["الروسي", "الروسية"], ["موسكو"]),
        "China": (["الصين", "والصين"], ["الصيني", "الصينية"], ["بكين"]),
        "Germany": (["ألمانيا", "وألمانيا"], ["الألماني", "الألمانية"], ["برلين"]),
        "France": (["فرنسا", "وفرنسا"], ["الفرنسي", "الفرنسية"], ["باريس"]),
        "Ukraine": (["أوكرانيا", "وأوكرانيا"], ["الأوكراني", "الأوكرانية"], ["كييف"]),
        "Israel": (["إسرائيل", "وإسرائيل"], ["الإسرائيلي", "الإسرائيلية"], ["القدس"]),
        "Turkey": (["تركيا", "وتركيا"], ["التركي", "التركية"], ["أنقرة"]),
        "Japan": (["اليابان", "واليابان"], ["الياباني", "اليابانية"], ["طوكيو"]),
        "United States": (["الولايات المتحدة", "أمريكا"], ["الأمريكي", "الأمريكية"], ["واشنطن"]),
    },
    "zh": {
        "Iran": (["伊朗"], ["伊朗人"], ["德黑兰"]),
        "Russia": (["俄罗斯", "俄国"], ["俄罗斯人"], ["莫斯科"]),
        "China": (["中国"], ["中国人"], ["北京"]),
        "Germany": (["德国"], ["德国人"], ["柏林"]),
        "France": (["法国"], ["法国人"], ["巴黎"]),
        "Ukraine": (["乌克兰"], ["乌克兰人"], ["基辅"]),
        "Israel": (["以色列"], ["以色列人"], ["耶路撒冷"]),
        "Turkey": (["土耳其"], ["土耳其人"], ["安卡拉"]),
        "Japan": (["日本"], ["日本人"], ["东京"]),
        "United States": (["美国"], ["美国人"], ["华盛顿"]),
    },
    "ja": {
        "Iran": (["イラン"], ["イラン人"], ["テヘラン"]),
        "Russia": (["ロシア"], ["ロシア人"], ["モスクワ"]),
        "China": (["中国"], ["中国人"], ["北京"]),
        "Germany": (["ドイツ"], ["ドイツ人"], ["ベルリン"]),
        "France": (["フランス"], ["フランス人"], ["パリ"]),
        "Ukraine": (["ウクライナ"], ["ウクライナ人"], ["キーウ", "キエフ"]),
        "Israel": (["イスラエル"], ["イスラエル人"], ["エルサレム"]),
        "Turkey": (["トルコ"], ["トルコ人"], ["アンカラ"]),
        "Japan": (["日本"], ["日本人"], ["東京"]),
        "United States": (["米国", "アメリカ"], ["アメリカ人"], ["ワシントン"]),
    },
}

#: language -> (templates for a name, for a demonym, for a capital); {} is the form.
TEMPLATES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "en": (
        ["The government of {} announced new measures.", "Relations with {} worsened this year."],
        ["{} officials confirmed the report."],
        ["The talks were held in {} on Monday."],
    ),
    "es": (
        ["El Gobierno de {} anunció nuevas medidas.", "Las relaciones con {} empeoraron este año."],
        ["Fuentes {} confirmaron la noticia."],
        ["Las conversaciones se celebraron en {} el lunes."],
    ),
    "fr": (
        [
            "Le gouvernement de {} a annoncé de nouvelles mesures.",
            "Les relations avec {} se sont dégradées cette année.",
        ],
        ["Des sources {} ont confirmé l'information."],
        ["Les pourparlers ont eu lieu à {} lundi."],
    ),
    "de": (
        [
            "Die Regierung von {} kündigte neue Maßnahmen an.",
            "Die Beziehungen zu {} haben sich verschlechtert.",
        ],
        ["Die {} Behörden bestätigten den Bericht."],
        ["Die Gespräche fanden am Montag in {} statt."],
    ),
    "it": (
        [
            "Il governo di {} ha annunciato nuove misure.",
            "I rapporti con {} sono peggiorati quest'anno.",
        ],
        ["Fonti {} hanno confermato la notizia."],
        ["I colloqui si sono svolti a {} lunedì."],
    ),
    "pt": (
        ["O governo de {} anunciou novas medidas.", "As relações com {} pioraram este ano."],
        ["Fontes {} confirmaram a notícia."],
        ["As conversas foram realizadas em {} na segunda-feira."],
    ),
    "ru": (
        [
            "Правительство объявило, что {} вводит новые меры.",
            "Отношения с {} ухудшились в этом году.",
        ],
        ["{} источники подтвердили эту информацию."],
        ["Переговоры прошли в понедельник, {} подтвердила это."],
    ),
    "ar": (
        ["أعلنت حكومة {} عن إجراءات جديدة.", "تدهورت العلاقات مع {} هذا العام."],
        ["أكدت المصادر {} الخبر."],
        ["عقدت المحادثات في {} يوم الاثنين."],
    ),
    "zh": (
        ["{}政府宣布了新的措施。", "今年与{}的关系恶化了。"],
        ["{}官员证实了这一消息。"],
        ["会谈周一在{}举行。"],
    ),
    "ja": (
        ["{}政府は新たな措置を発表した。", "今年、{}との関係が悪化した。"],
        ["{}の当局者がこの情報を確認した。"],
        ["会談は月曜日に{}で行われた。"],
    ),
}

#: language -> sentences that name none of the ten countries.
NEGATIVES: dict[str, list[str]] = {
    "en": [
        "Oil prices rose two percent.",
        "Farmers protested against the drought.",
        "We roast a turkey for Christmas.",
        "The team won the match on Sunday.",
    ],
    "es": [
        "El precio del petróleo subió un dos por ciento.",
        "Los agricultores protestaron por la sequía.",
        "El jugador Antonio Francés marcó dos goles.",
        "El chile es un ingrediente básico.",
    ],
    "fr": [
        "Le prix du pétrole a augmenté.",
        "Les agriculteurs manifestent contre la sécheresse.",
        "Le Paris Saint-Germain a gagné le match.",
        "Le chef a servi une dinde aux marrons.",
    ],
    "de": [
        "Der Ölpreis ist gestiegen.",
        "Die Bauern protestieren gegen die Dürre.",
        "Berliner Pfannkuchen sind lecker.",
        "Die Mannschaft gewann das Spiel.",
    ],
    "it": [
        "Il prezzo del petrolio è salito.",
        "Gli agricoltori protestano contro la siccità.",
        "La squadra ha vinto la partita.",
        "Il tacchino è pronto per la cena.",
    ],
    "pt": [
        "O preço do petróleo subiu.",
        "Comemos peru no Natal.",
        "Os agricultores protestam contra a seca.",
        "O time venceu a partida.",
    ],
    "ru": [
        "Цены на нефть выросли.",
        "Фермеры протестуют против засухи.",
        "Команда выиграла матч.",
        "Того же мнения придерживается министр.",
    ],
    "ar": ["ارتفعت أسعار النفط.", "احتج المزارعون على الجفاف.", "فاز الفريق بالمباراة."],
    "zh": ["石油价格上涨了。", "农民抗议干旱。", "球队赢得了比赛。"],
    "ja": ["石油価格が上昇した。", "農家が干ばつに抗議した。", "チームが試合に勝った。"],
}
