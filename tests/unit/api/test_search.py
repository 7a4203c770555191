"""Search rules: tokenizing, index weights, typo tolerance and prefix expansion."""

from kafka_restaurants.api.search import (
    EXACT,
    MENU_WEIGHT,
    NAME_WEIGHT,
    ONE_MISSING_OR_EXTRA,
    ONE_TYPO,
    PREFIX,
    STYLE_WEIGHT,
    TWO_TYPOS,
    Vocabulary,
    allowed_typos,
    index_terms,
    matched_tokens,
    tokenize,
)


def test_tokenize_lowercases_strips_accents_and_stopwords() -> None:
    assert tokenize("The Café  de   PARIS & Pizza!") == ["cafe", "paris", "pizza"]


def test_tokenize_drops_one_letter_words_and_keeps_digits() -> None:
    assert tokenize("a 7 Up, 24h") == ["up", "24h"]


def test_index_terms_keeps_best_field_weight() -> None:
    terms = index_terms("Pizza Place", "Italian", ["Margherita pizza", "Tiramisu"])
    assert terms["pizza"] == NAME_WEIGHT
    assert terms["italian"] == STYLE_WEIGHT
    assert terms["margherita"] == MENU_WEIGHT
    assert terms["tiramisu"] == MENU_WEIGHT


def test_allowed_typos_grows_with_word_length() -> None:
    assert [allowed_typos(w) for w in ("pho", "piza", "sabich", "shawrma")] == [0, 1, 1, 2]


VOCAB = Vocabulary(["pizza", "pizzeria", "shawarma", "sabich", "sushi", "ramen", "hummus"])


def _by_term(tokens: list[str]) -> dict[str, int]:
    return {m.term: m.quality for m in VOCAB.expand(tokens)}


def test_exact_word_matches_best() -> None:
    assert _by_term(["pizza"])["pizza"] == EXACT


def test_one_typo_finds_the_word() -> None:
    assert _by_term(["piza"])["pizza"] == ONE_MISSING_OR_EXTRA
    assert _by_term(["sushu"])["sushi"] == ONE_TYPO


def test_a_close_reading_hides_far_ones() -> None:
    vocabulary = Vocabulary(["pizza", "pita"])
    assert {m.term for m in vocabulary.expand(["piza"])} == {"pizza"}
    # With no close reading, a wrong letter is still tolerated.
    assert {m.term for m in Vocabulary(["pita"]).expand(["piza"])} == {"pita"}


def test_swapped_letters_are_one_typo() -> None:
    assert _by_term(["rmaen"])["ramen"] == ONE_TYPO


def test_missing_letter_in_long_word() -> None:
    assert _by_term(["shawrma"])["shawarma"] == ONE_MISSING_OR_EXTRA


def test_two_typos_allowed_for_long_words_only() -> None:
    assert _by_term(["shawerme"])["shawarma"] == TWO_TYPOS
    assert "shawarma" not in _by_term(["shwrma"])  # 6 letters: one typo only
    assert _by_term(["rmn"]) == {}  # 3 letters: no typos tolerated


def test_prefix_expands_as_you_type() -> None:
    matches = _by_term(["piz"])
    assert matches == {"pizza": PREFIX, "pizzeria": PREFIX}


def test_unrelated_word_matches_nothing() -> None:
    assert VOCAB.expand(["xylophone"]) == []


def test_matched_tokens_counts_query_words_with_any_match() -> None:
    matches = VOCAB.expand(["pizza", "xylophone", "ramen"])
    assert matched_tokens(matches) == 2
