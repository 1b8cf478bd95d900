"""decoders.ProductDecoder (the batched fast path) against decoders.decode_frames (the general one):
the same reading, penalty for penalty, on random frames, for every grammar the product offers."""

import pytest
import torch

from decoders import CharacterModel, Grammar, ProductDecoder, decode_frames

GRAMMARS = {
    "any": None,
    "zip": Grammar.zip_code(),
    "amount": Grammar.cheque_amount(),
    "amount:strict": Grammar.amount(),
    "digits 3-8": Grammar.digits(3, 8),
    "lexicon": Grammar.lexicon(["12", "345", "1,000"]),
    "pattern": Grammar.pattern(r"\d{2}[.,]\d{2}"),
}


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_product_decoder_reads_what_decode_frames_reads(name):
    cm = CharacterModel()
    grammar = GRAMMARS[name]
    dec = ProductDecoder(grammar, cm)
    gen = torch.Generator().manual_seed(len(name))
    pen = torch.rand(6, 14, 17, generator=gen, dtype=torch.float64) * 10
    pen[:, :, 16] -= 2.5
    lengths = torch.tensor([14, 9, 12, 6, 14, 11])
    best, spans = dec.viterbi(pen, lengths)
    f_all = dec.forward_all(pen, lengths)
    for b in range(len(lengths)):
        results = decode_frames(pen[b, : lengths[b]], grammar, model=cm)
        ours = "".join(cm.alphabet.decode([s.label for s in spans[b]]))
        if not results:  # no allowed reading at all: the product says inf
            assert best[b] == float("inf")
            continue
        top = results[0]
        assert ours == top.text
        assert float(best[b]) == pytest.approx(top.penalty, abs=1e-6)
        # the same character spans: frames, frame-graph arcs and their penalty
        assert [(s.char, s.label, s.start, s.end, s.arcs) for s in spans[b]] == \
            [(s.char, s.label, s.start, s.end, tuple(s.arcs)) for s in top.spans]
        assert [s.penalty for s in spans[b]] == pytest.approx([s.penalty for s in top.spans], abs=1e-9)
        # the same posterior of the text: exp(F_all - F_text)
        f_txt = dec.forward_text(pen[b: b + 1], lengths[b: b + 1], [[s.label for s in spans[b]]])
        assert float(torch.exp(f_all[b] - f_txt[0])) == pytest.approx(top.confidence, abs=1e-6)
