"""Planted neurons over real English text: we know what they do, so a scorer can be checked.

Each planted neuron fires (1.0) on a known class of tokens and is zero elsewhere.
Lexical ones fire on a word class (numbers, months, colours ...); contextual ones
fire on a word in only one of its senses or positions, which a per-word lookup
cannot get right. The sentences are ordinary prose written for this purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.records import ActivationRecord

SENTENCES = [
    "In January the lake froze and the children skated on it every morning.",
    "She paid 42 dollars for the red scarf and 17 for the gloves.",
    "My brother moved to Chicago in March after finishing his degree.",
    "The blue door at the end of the street belongs to my aunt.",
    "We sat on the grassy bank of the river and watched the ducks.",
    "He went to the bank to deposit his salary and ask about a loan.",
    "The cat chased a mouse under the old wooden table.",
    "On Monday the meeting starts at 9, so please do not be late.",
    "Apple released a new phone, and its shares rose by 3 percent.",
    "For dessert she ate an apple and a slice of cheese.",
    "In spring the garden is full of yellow and purple flowers.",
    "The mattress had a broken spring that poked through the fabric.",
    "You may leave the room once you have finished the test.",
    "The festival takes place in May, when the weather is warm.",
    "The horse and the cow stood quietly in the green field.",
    "Her mother baked bread while her father fixed the fence.",
    "The train arrived at 7 in the evening, about 20 minutes late.",
    "Never leave a candle burning when you go out of the house.",
    "The bank raised its interest rates again in October.",
    "Erosion slowly wore away the muddy bank of the stream.",
    "Tuesday and Thursday are the busiest days at the library.",
    "The dog barked at the postman, who dropped 3 letters.",
    "A grey sky hung over the town for most of December.",
    "My sister and my uncle visited us on Saturday afternoon.",
    "The report, which was long, did not mention the budget.",
    "He bought 12 eggs, 2 loaves of bread and a bag of rice.",
    "We planted orange trees along the fence in April.",
    "The bat flew out of the cave as the sun went down.",
    "He swung the bat and hit the ball over the wall.",
    "The spring near the village gives clear, cold water all year.",
    "Prices may rise again if the harvest is poor.",
    "Grandfather told stories about the war every Sunday.",
    "The white rabbit hid behind a pink bucket in the yard.",
    "She wrote the answer on the board: 15 plus 27 is 42.",
    "No one knew why the lights went out at midnight.",
    "The bank of fog rolled in from the sea before dawn.",
    "Farmers sell their apples at the market every Friday.",
    "In February the shop closes early on Wednesday evenings.",
    "The black sheep of the family was actually quite kind.",
    "The lion slept in the shade while the zebras grazed nearby.",
    "Apple opened a store downtown, and people queued for hours.",
    "The players ran onto the field, and the crowd cheered loudly.",
    "After the storm, the river rose almost 2 metres overnight.",
    "The students read the poem aloud, one line at a time.",
    "My cousin lives in a small flat above a bakery.",
    "The committee will meet again in June to vote on the plan.",
    "A fox crept past the henhouse without making a sound.",
    "The old bridge was painted green in the summer of 1998.",
    "Nobody answered the phone, so she left a short message.",
    "The engineer checked 8 valves and replaced 1 of them.",
    "The bank approved her loan after checking her salary slips.",
    "A small bank in the town pays good interest on savings.",
    "Children fished from the bank while their parents talked by the river.",
    "Reeds grew thick along the bank of the slow stream.",
    "Apple announced record profits and its shares jumped.",
    "He peeled an apple and gave half of it to his daughter.",
    "We may visit the museum if the rain stops.",
    "The school trip is planned for May, after the exams.",
    "A bat hung upside down from the roof of the barn.",
    "The cricket player lost his favourite bat on the train.",
    "Birds return to the north every spring to build nests.",
    "The cold spring behind the farm never runs dry.",
]


def tokenize(text: str) -> list[str]:
    """GPT-2-style word tokens: a leading space belongs to the word that follows it."""
    return re.findall(r" ?[A-Za-z]+| ?\d+| ?[^\sA-Za-z\d]", text)


def _word(token: str) -> str:
    return token.strip().lower()


# A rule sees a sentence's tokens and one position and says whether the neuron fires there.
Rule = Callable[[list[str], int], bool]


def in_set(words: set[str]) -> Rule:
    return lambda toks, i: _word(toks[i]) in words


def word_when(word: str, context: set[str]) -> Rule:
    """The word fires only when one of the context words is in the same sentence."""
    return lambda toks, i: _word(toks[i]) == word and any(_word(t) in context for t in toks)


@dataclass(frozen=True)
class PlantedNeuron:
    name: str
    kind: str  # "lexical" | "contextual"
    explanation: str
    rule: Rule
    # Contextual neurons: the word whose other sense must NOT fire (those sentences come
    # first among the random records) and the explanation of that sense (the hard wrong answer).
    word: str = ""
    confuser: str = ""

    def records(self) -> tuple[list[ActivationRecord], list[ActivationRecord]]:
        """(top, random): sentences where it fires, and as many where it does not."""
        top, rest = [], []
        for sentence in SENTENCES:
            toks = tokenize(sentence)
            acts = [1.0 if self.rule(toks, i) else 0.0 for i in range(len(toks))]
            (top if any(acts) else rest).append(ActivationRecord(toks, acts))
        if self.word:
            rest.sort(key=lambda r: not any(_word(t) == self.word for t in r.tokens))
        return top, rest[: len(top)]


MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september"}
MONTHS |= {"october", "november", "december"}
MONEY = {"deposit", "salary", "loan", "interest", "rates", "raised"}
RIVER = {"river", "grassy", "stream", "muddy", "erosion"}
COMPANY = {"released", "phone", "shares", "store", "opened", "announced"}
FRUIT = {"ate", "dessert", "cheese", "peeled"}

NEURONS = [
    PlantedNeuron("numbers", "lexical", "numbers written as digits", lambda t, i: _word(t[i]).isdigit()),
    PlantedNeuron("months", "lexical", "names of months of the year", in_set(MONTHS - {"may"})),
    PlantedNeuron(
        "colours",
        "lexical",
        "colour words such as red, blue or green",
        in_set({"red", "blue", "yellow", "purple", "green", "grey", "white", "pink", "orange", "black"}),
    ),
    PlantedNeuron("punctuation", "lexical", "commas", in_set({","})),
    PlantedNeuron(
        "animals",
        "lexical",
        "names of animals",
        in_set({"cat", "mouse", "horse", "cow", "dog", "rabbit", "lion", "zebras", "fox", "ducks", "sheep"}),
    ),
    PlantedNeuron(
        "weekdays",
        "lexical",
        "days of the week",
        in_set({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}),
    ),
    PlantedNeuron(
        "family",
        "lexical",
        "family members such as mother or brother",
        in_set({"brother", "aunt", "mother", "father", "sister", "uncle", "grandfather", "cousin", "family"}),
    ),
    PlantedNeuron(
        "bank-money",
        "contextual",
        "the word bank meaning a financial institution",
        word_when("bank", MONEY),
        word="bank",
        confuser="the word bank meaning the land along a river",
    ),
    PlantedNeuron(
        "bank-river",
        "contextual",
        "the word bank meaning the land along a river",
        word_when("bank", RIVER),
        word="bank",
        confuser="the word bank meaning a financial institution",
    ),
    PlantedNeuron(
        "apple-company",
        "contextual",
        "Apple, the technology company",
        word_when("apple", COMPANY),
        word="apple",
        confuser="apple, the fruit",
    ),
    PlantedNeuron(
        "apple-fruit",
        "contextual",
        "apple, the fruit",
        word_when("apple", FRUIT),
        word="apple",
        confuser="Apple, the technology company",
    ),
    PlantedNeuron(
        "may-month",
        "contextual",
        "May as the name of a month",
        lambda t, i: t[i].strip() == "May",
        word="may",
        confuser="may as a verb expressing permission or possibility",
    ),
    PlantedNeuron(
        "may-verb",
        "contextual",
        "may as a verb expressing permission or possibility",
        lambda t, i: t[i].strip() == "may",
        word="may",
        confuser="May as the name of a month",
    ),
    PlantedNeuron(
        "bat-animal",
        "contextual",
        "bat, the flying animal",
        word_when("bat", {"flew", "cave", "hung", "barn"}),
        word="bat",
        confuser="a bat used to hit a ball in sports",
    ),
    PlantedNeuron(
        "bat-sports",
        "contextual",
        "a bat used to hit a ball in sports",
        word_when("bat", {"swung", "ball", "cricket", "player"}),
        word="bat",
        confuser="bat, the flying animal",
    ),
    PlantedNeuron(
        "spring-season",
        "contextual",
        "spring, the season of the year",
        word_when("spring", {"garden", "flowers", "birds", "nests", "every"}),
        word="spring",
        confuser="a spring of water coming out of the ground",
    ),
]
