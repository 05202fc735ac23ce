"""Wire-style reports of two earthquakes in Chile, for the story tests (written for them).

Built the way outlets carry one event: a Reuters report, an AP rewrite of it
(about half the word pairs in common: the same facts, other sentences), and a
local paper's reprint of the AP text (a word changed, the credit line added),
which is closer to the AP text (0.9) than to the Reuters one (under 0.5). A
second quake of the same kind, in the same country, within one window, is told
in the same wire templates ("the U.S. Geological Survey said", "the navy ruled
out a tsunami threat", the "Ring of Fire" line), with other places, dead and
date. Last, four writethrus of the first story, each keeping about two thirds of
the previous one, that drift from the quake to a copper-mine strike vote.

The measured similarities (sketch estimates; ``tests/stories/test_story_members.py``
pins them) are what the tests rely on.
"""

from __future__ import annotations

#: (title, text) of one article.
Report = tuple[str, str]

#: The first report of the story (Reuters).
REUTERS: Report = (
    "Magnitude 6.1 earthquake strikes northern Chile",
    "SANTIAGO (Reuters) - A magnitude 6.1 earthquake struck northern Chile on Tuesday, "
    "shaking buildings in the port city of Antofagasta and cutting power to parts of the "
    "Atacama desert region, officials said. The quake hit at 10:42 a.m. local time (1442 GMT) "
    "at a depth of 35 km (22 miles), about 60 km north-east of Antofagasta, the U.S. "
    "Geological Survey said. Chile's national emergency office, Senapred, said there were no "
    "immediate reports of casualties or serious damage, and the navy ruled out a tsunami "
    "threat. Copper miner BHP said operations at its Escondida mine, the world's largest, "
    'were normal after safety checks. Chile, which sits on the Pacific "Ring of Fire", is '
    "one of the most seismically active countries in the world.",
)

#: The AP's report of the same quake: about 0.5 similar to the Reuters one.
AP: Report = (
    "Strong earthquake shakes northern Chile, no damage reported",
    "ANTOFAGASTA, Chile (AP) - A magnitude 6.1 earthquake struck northern Chile on Tuesday, "
    "shaking buildings in the port city of Antofagasta and cutting power to parts of the "
    "Atacama desert region. The quake hit at 10:42 a.m. local time at a depth of 35 km, "
    "about 60 km north-east of Antofagasta, the U.S. Geological Survey said. Residents ran "
    "into the streets as the shaking lasted nearly a minute. Chile's national "
    "emergency office, Senapred, said there were no immediate reports of casualties or "
    "serious damage, and the navy ruled out a tsunami threat. "
    "Mining company BHP said its Escondida copper mine was operating normally. Chile sits on "
    'the Pacific "Ring of Fire" and is one of the most seismically active countries in '
    "the world.",
)

#: A local paper's reprint of the AP report: 0.9 similar to it, under 0.5 to Reuters'.
AP_REPRINT: Report = (
    AP[0],
    AP[1]
    .replace("A magnitude 6.1", "A 6.1-magnitude")
    .replace("shaking buildings", "rattling buildings")
    + " Copyright 2027 The Associated Press.",
)

#: Another quake in Chile, within the same window, told in Reuters' template.
OTHER_REUTERS: Report = (
    "Magnitude 6.4 earthquake strikes central Chile, two dead",
    "SANTIAGO (Reuters) - A magnitude 6.4 earthquake struck central Chile on Wednesday, "
    "killing two people in the coastal town of Constitucion and damaging dozens of homes "
    "in the Maule region, officials said. The quake hit at 3:15 a.m. local time (0715 GMT) "
    "at a depth of 20 km (12 miles), about 30 km south-west of Talca, the U.S. Geological "
    "Survey said. Chile's national emergency office, Senapred, said an elderly couple died "
    "when their adobe house collapsed, and the navy ruled out a tsunami threat. State copper "
    "company Codelco said it had halted work at its El Teniente mine for safety checks. "
    'Chile, which sits on the Pacific "Ring of Fire", is one of the most seismically '
    "active countries in the world.",
)

#: The AP's report of the other quake, in the AP's template.
OTHER_AP: Report = (
    "Strong earthquake kills two in central Chile",
    "TALCA, Chile (AP) - A magnitude 6.4 earthquake struck central Chile on Wednesday, "
    "killing two people in the coastal town of Constitucion and damaging dozens of homes in "
    "the Maule region. The quake hit at 3:15 a.m. local time at a depth of 20 km, about "
    "30 km south-west of Talca, the U.S. Geological Survey said. Residents ran into the "
    "streets as the shaking lasted nearly a minute. Chile's national emergency office, "
    "Senapred, said an elderly couple died when their adobe house collapsed, and the navy "
    "ruled out a tsunami threat. Codelco said its El Teniente copper mine was operating "
    'normally after safety checks. Chile sits on the Pacific "Ring of Fire" and is one of '
    "the most seismically active countries in the world.",
)

_PARAGRAPHS = (
    "SANTIAGO (Reuters) - A magnitude 6.1 earthquake struck northern Chile on Tuesday, "
    "shaking buildings in the port city of Antofagasta and cutting power to parts of the "
    "Atacama desert region, officials said.",
    "The quake hit at 10:42 a.m. local time at a depth of 35 km, about 60 km north-east of "
    "Antofagasta, the U.S. Geological Survey said. Chile's emergency office said there were "
    "no immediate reports of casualties.",
    "BHP said it had briefly halted work at its Escondida mine, the world's largest copper "
    "mine, while engineers inspected the pits and the concentrator plant for damage.",
    "Work resumed at Escondida on Tuesday evening after no damage was found, the company "
    "said in a statement, adding that the brief stoppage would not affect its copper "
    "production guidance for the year.",
    "Copper prices on the London Metal Exchange rose 1.2% to $9,850 a tonne on Wednesday as "
    "traders weighed the risk of further disruption to supply from Chile, the world's top "
    "producer.",
    "Analysts at Citi said the market remained tight, with inventories in LME-registered "
    "warehouses at their lowest level since 2022 and demand from Chinese grid projects "
    "holding up.",
    "Escondida's main workers' union said on Wednesday it would vote next week on a strike "
    "after talks over a new wage contract broke down, raising the prospect of a repeat of "
    "the 44-day stoppage in 2017.",
)
_TITLES = (
    "Magnitude 6.1 earthquake strikes northern Chile",
    "Chile quake briefly halts work at BHP's Escondida copper mine",
    "Copper rises after Chile quake halts Escondida mine",
    "Copper extends gains as Escondida union weighs strike",
)

#: Writethrus A, B, C, D: each four paragraphs, the first three of them the previous
#: one's last three; consecutive ones are over 0.5 similar, D and A under 0.2.
DRIFT: tuple[Report, ...] = tuple(
    (title, "\n\n".join(_PARAGRAPHS[i : i + 4])) for i, title in enumerate(_TITLES)
)
