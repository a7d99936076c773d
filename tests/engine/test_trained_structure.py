"""The trained head's structural inputs: enclosures, places, and the words an explanation quotes.

These are what lets a rule about place carry to an instance training never saw (a new
delimiter, a new trigger word, a new ordinal), so each is checked on such an instance.
"""

from __future__ import annotations

import torch

from engine.scoring.planted import tokenize
from engine.scoring.trained.structure import FORM, MATCHES, PLACES, enclosures, matches, record_form, terms


def _words(text: str) -> list[str]:
    return [t.strip().lower() for t in tokenize(text)]


def test_enclosures_pair_every_kind_of_mark_and_nest() -> None:
    words = _words('He said "hi (there) now" and {x} [y.')
    out = enclosures(tokenize('He said "hi (there) now" and {x} [y.'))
    assert [words[i] for i, o in enumerate(out) if o >= 0] == ["hi", "(", "there", ")", "now", "x"]
    assert words[out[words.index("there")]] == "("  # the innermost pair
    assert words[out[words.index("hi")]] == '"'
    assert all(o < 0 for o in out[words.index("[") :])  # an unclosed mark encloses nothing


def test_an_apostrophe_inside_a_word_opens_nothing() -> None:
    assert all(o < 0 for o in enclosures(tokenize("It's John's book, isn't it?")))
    words = _words("He said 'yes' to it's end.")
    out = enclosures(tokenize("He said 'yes' to it's end."))
    assert [words[i] for i, o in enumerate(out) if o >= 0] == ["yes"]


def test_record_form_marks_places_among_words_and_digits() -> None:
    tokens = tokenize("In 1998, the cat sat.")
    form, opener = record_form(tokens)
    assert form.shape == (len(tokens), FORM) and opener.tolist() == [-1] * len(tokens)
    alpha = form[:, PLACES + 1 : 2 * (PLACES + 1)]
    # Words: In (1st), the (2nd), cat, sat (last); "1998" and punctuation have no word rank.
    assert alpha[0, 0] == 1 and alpha[3, 1] == 1 and alpha[5, PLACES] == 1
    assert alpha[1].sum() == 0 and alpha[2].sum() == 0
    digits = form[1, 2 * (PLACES + 1) + 6 : 2 * (PLACES + 1) + 11]
    assert digits.tolist() == [0, 0, 0, 1, 0]  # four digits


def test_terms_take_quoted_words_and_leave_apostrophes_alone() -> None:
    quoted, used = terms("the word right after \"the\", not after 'of' or the dog's")
    assert quoted == {"the", "of"}
    assert {"right", "after", "dog"} <= used
    assert terms("words inside parentheses")[0] == frozenset()


def test_matches_point_at_the_neighbour_of_a_quoted_word() -> None:
    words = _words("A dog and the cat.")
    m = matches(words, terms('the word right after "the"'))
    assert m.shape == (len(words), MATCHES)
    cat = words.index("cat")
    assert m[cat].tolist()[:3] == [0.0, 1.0, 0.0]  # left neighbour quoted
    assert m[words.index("and")].tolist()[:3] == [0.0, 0.0, 1.0]  # right neighbour quoted
    assert torch.equal(m[words.index("dog"), :3], torch.zeros(3))
