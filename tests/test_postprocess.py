"""Tests of squad_nb.postprocess: same answers as the plain-loop reference on real windows, streaming, rules, files, errors."""
import json, math, sys
from pathlib import Path
import numpy as np, pytest
from datasets import Dataset

sys.path.insert(0, str(Path(__file__).parent))
from reference_postprocess import reference_postprocess
from squad_nb.postprocess import (postprocess_qa_predictions, read_windows, window_candidates, decode_candidates,
                                  get_predictions, get_null_score_diffs, write_predictions)
from squad_nb.runtime import write_json_atomic

SEED_DIR = Path(__file__).parents[1]/'..'/'shared'/'seed'

@pytest.fixture(scope='module')
def tok():
    from squad_nb.features import load_tokenizer
    return load_tokenizer()

@pytest.fixture(scope='module')
def sample(tok):
    "The bundled sample's validation questions and their windows (max_length 128, stride 32: many long examples)."
    import datasets
    from squad_nb.data import load_squad
    from squad_nb.features import tokenize_dataset
    datasets.disable_progress_bars()
    ex = load_squad('sample')['validation']
    return ex, tokenize_dataset(ex, tok, train=False, max_length=128, doc_stride=32)

def random_logits(n, width, seed, dtype=np.float32, cls_shift=2.0):
    "Seeded random start/end logits [n, width], CLS shifted so that some questions come out unanswered."
    rng = np.random.default_rng(seed)
    s, e = rng.normal(size=(2, n, width)).astype(dtype)
    s[:, 0] += cls_shift; e[:, 0] += cls_shift
    return s, e

def assert_same(res, ref):
    "Our result equals the reference's, example by example (probabilities up to rounding)."
    assert list(res) == list(ref)
    for i in res:
        a, b = res[i], ref[i]
        for f in ('text', 'score', 'start_char', 'end_char', 'null_score', 'null_score_diff', 'prediction'):
            assert a[f] == b[f], (i, f, a[f], b[f])
        assert [(x['text'], x['start_char'], x['end_char'], x['score']) for x in a['nbest']] == \
               [(x['text'], x['start_char'], x['end_char'], x['score']) for x in b['nbest']], i
        assert all(math.isclose(x['probability'], y['probability'], rel_tol=1e-9) for x, y in zip(a['nbest'], b['nbest']))

@pytest.mark.parametrize('seed,dtype,n_best,max_len,rounded', [
    (0, np.float32, 20, 30, False), (1, np.float64, 5, 8, False), (2, np.float32, 3, 4, True)])
def test_same_as_reference(sample, seed, dtype, n_best, max_len, rounded):
    ex, feats = sample
    s, e = random_logits(len(feats), 128, seed, dtype)
    if rounded: s, e = np.round(s), np.round(e)   # many ties: tie-breaking must agree too
    res = postprocess_qa_predictions(ex, feats, s, e, n_best=n_best, max_answer_length=max_len)
    assert_same(res, reference_postprocess(ex, feats, s, e, n_best=n_best, max_answer_length=max_len))
    assert 0 < res.prediction.count('') < len(ex)   # both kinds of answers are exercised

def test_inputs_layouts(sample):
    "Padded 2D logits (Trainer's -100), a list of 1D arrays and plain-list features give the same answers."
    ex, feats = sample
    s, e = random_logits(len(feats), 128, 3)
    base = postprocess_qa_predictions(ex, feats, s, e)
    pad = lambda x: np.pad(x, ((0, 0), (0, 40)), constant_values=-100)
    lens = [len(o) for o in feats['offset_mapping']]
    for args in [(ex, feats, pad(s), pad(e)), (ex, feats, [r[:n] for r, n in zip(s, lens)], [r[:n] for r, n in zip(e, lens)]),
                 (ex.to_list(), feats.to_dict(), s, e), (ex.to_dict(), feats.to_list(), s, e)]:
        r = postprocess_qa_predictions(*args)
        assert r.prediction == base.prediction and np.array_equal(r.null_score_diff, base.null_score_diff)
    import torch
    r = postprocess_qa_predictions(ex, feats, torch.from_numpy(s), torch.from_numpy(e).to(torch.bfloat16))   # tensors, mixed types
    assert r.prediction == postprocess_qa_predictions(ex, feats, s, torch.from_numpy(e).to(torch.bfloat16).float().numpy()).prediction
    shuffled = ex.shuffle(seed=0)   # examples in another order (and with an indices mapping)
    r = postprocess_qa_predictions(shuffled, feats, s, e)
    assert get_predictions(r) == get_predictions(base)

def test_streaming_equals_all_at_once(sample):
    ex, feats = sample
    s, e = random_logits(len(feats), 128, 4)
    win = read_windows(feats)
    at_once = postprocess_qa_predictions(ex, feats, s, e)
    for bs in (1, 7, 64, 1000):
        states = [window_candidates(s[lo:lo+bs], e[lo:lo+bs], win[lo:lo+bs]) for lo in range(0, len(win), bs)]
        r = decode_candidates(ex, win, states)
        assert r.prediction == at_once.prediction and np.array_equal(r.score, at_once.score)
        assert np.array_equal(r.null_score_diff, at_once.null_score_diff) and r.nbest() == at_once.nbest()

# A hand-made window layout: CLS, 3 question tokens, SEP, 7 context tokens, SEP
CTX = 'Paris is the capital of France.'
OFFS = [None]*5 + [[0, 5], [6, 8], [9, 12], [13, 20], [21, 23], [24, 30], [30, 31]] + [None]
def hand(ids=('q1',), windows=None):
    ex = [dict(id=i, context=CTX) for i in ids]
    feats = [dict(example_id=i, offset_mapping=OFFS, cls_index=0) for i in (windows or ids)]
    return ex, feats

def test_min_null_over_windows():
    "Two windows: the answer's window has a low CLS score, the other a high one. Smallest CLS wins; the seed's largest would not."
    ex, feats = hand(['q1'], ['q1', 'q1'])
    s = np.zeros((2, 13), np.float32); e = np.zeros((2, 13), np.float32)
    s[0, 5] = e[0, 5] = 4      # window 0: "Paris", score 8; CLS 0
    s[1, 0] = e[1, 0] = 5      # window 1: CLS 10
    res = postprocess_qa_predictions(ex, feats, s, e)
    assert res['q1']['null_score'] == 0 and res['q1']['score'] == 8 and res['q1']['prediction'] == 'Paris'
    assert reference_postprocess(ex, feats, s, e, null='max')['q1']['prediction'] == ''
    sys.path.insert(0, str(SEED_DIR))
    from seed_reference import make_seed_fns   # the starting notebook's function, on the same windows
    class Tok: padding_side, cls_token_id = 'right', 101
    seed_post = make_seed_fns(Tok())[2]
    seed_feats = [dict(f, input_ids=[101] + [0]*12) for f in feats]
    assert seed_post(Dataset.from_list(ex), seed_feats, (s, e))['q1'] == ''

def test_topk_within_context():
    "The question tokens have the highest logits: top-k over all positions leaves nothing, top-k within the context answers."
    ex, feats = hand()
    s = np.zeros((1, 13), np.float32); e = np.zeros((1, 13), np.float32)
    s[0, 1:4] = e[0, 1:4] = 9; s[0, 6] = 2; e[0, 8] = 2
    res = postprocess_qa_predictions(ex, feats, s, e, n_best=3)
    assert res['q1']['text'] == 'is the capital' and res['q1']['prediction'] == 'is the capital'
    assert reference_postprocess(ex, feats, s, e, n_best=3, topk='all')['q1']['nbest'] == []

def test_no_candidate_gives_empty():
    ex, feats = hand(['q1', 'q2'])
    s = np.full((2, 13), -1, np.float32); e = np.full((2, 13), -1, np.float32)
    s[:, 11] = 5; e[:, 5] = 5      # the only start tried (n_best=1) is after the only end tried
    res = postprocess_qa_predictions(ex, feats, s, e, n_best=1, null_threshold=1e9)
    assert res.prediction == ['', ''] and res['q1']['nbest'] == []
    assert np.isinf(res.null_score_diff).all() and (res.null_score_diff > 0).all() and (res.score == -np.inf).all()
    assert get_null_score_diffs(res) == {'q1': math.inf, 'q2': math.inf}

def test_length_and_order_respected(sample):
    "Every n-best span is, in some window of its example, a context span with end >= start and at most max_answer_length tokens."
    ex, feats = sample
    s, e = random_logits(len(feats), 128, 5)
    tokens = {}   # example id -> per window: (start char -> tokens, end char -> tokens)
    for eid, off in zip(feats['example_id'], feats['offset_mapping']):
        st, en = {}, {}
        for k, o in enumerate(off):
            if o is not None: st.setdefault(o[0], []).append(k); en.setdefault(o[1], []).append(k)
        tokens.setdefault(eid, []).append((st, en))
    for max_len in (1, 3, 30):
        res = postprocess_qa_predictions(ex, feats, s, e, max_answer_length=max_len)
        n = 0
        for id_ in res:
            nb = res[id_]['nbest']
            assert [c['score'] for c in nb] == sorted([c['score'] for c in nb], reverse=True)
            if nb: assert math.isclose(sum(c['probability'] for c in nb), 1.0)
            for c in nb:
                pairs = [(a, b) for st, en in tokens[id_] for a in st.get(c['start_char'], []) for b in en.get(c['end_char'], [])]
                assert any(0 <= b - a < max_len for a, b in pairs), (id_, c, pairs)
                n += 1
        assert n > len(res)

def test_threshold_semantics():
    ex, feats = hand(['q1'])
    s = np.zeros((1, 13), np.float32); e = np.zeros((1, 13), np.float32)
    s[0, 5] = e[0, 5] = 2; s[0, 0] = e[0, 0] = 3      # best 4, null 6: null_score_diff = 2
    for thr, pred in ((0.0, ''), (1.99, ''), (2.0, 'Paris'), (5.0, 'Paris')):   # "" only when diff > threshold
        res = postprocess_qa_predictions(ex, feats, s, e, null_threshold=thr)
        assert res['q1']['null_score_diff'] == 2.0 and res.prediction == [pred]
        assert get_predictions(postprocess_qa_predictions(ex, feats, s, e), thr) == {'q1': pred}

def test_writers(tmp_path, sample):
    ex, feats = sample
    s, e = random_logits(len(feats), 128, 6)
    res = postprocess_qa_predictions(ex, feats, s, e)
    paths = write_predictions(res, tmp_path/'out')
    assert json.loads(paths['predictions'].read_text()) == get_predictions(res)
    assert json.loads(paths['null_score_diff'].read_text()) == get_null_score_diffs(res)
    nb = json.loads(paths['nbest'].read_text())
    assert nb == json.loads(json.dumps(res.nbest())) and set(nb) == set(res)
    # a failed write leaves the previous file intact and no temporary file behind
    before = paths['predictions'].read_text()
    with pytest.raises(TypeError): write_json_atomic({'x': object()}, paths['predictions'])
    assert paths['predictions'].read_text() == before
    assert sorted(p.name for p in (tmp_path/'out').iterdir()) == ['nbest_predictions.json', 'null_odds.json', 'predictions.json']
    # an example without any span: its inf null_score_diff is written as Infinity and read back
    exh, fh = hand(['q1'])
    no_span = postprocess_qa_predictions(exh, fh, np.where(np.arange(13) == 11, 1., 0)[None], np.where(np.arange(13) == 5, 1., 0)[None], n_best=1)
    p = write_predictions(no_span, tmp_path/'inf')
    assert 'Infinity' in p['null_score_diff'].read_text() and json.loads(p['null_score_diff'].read_text()) == {'q1': math.inf}
    assert json.loads(p['predictions'].read_text()) == {'q1': ''} and json.loads(p['nbest'].read_text()) == {'q1': []}

def test_errors():
    ex, feats = hand(['q1', 'q2'])
    s = np.zeros((2, 13), np.float32)
    with pytest.raises(ValueError, match='start_logits has 1 windows but features have 2'):
        postprocess_qa_predictions(ex, feats, s[:1], s)
    with pytest.raises(ValueError, match='end_logits has 3 windows but features have 2'):
        postprocess_qa_predictions(ex, feats, s, np.zeros((3, 13)))
    with pytest.raises(ValueError, match="features have no 'offset_mapping' field"):
        postprocess_qa_predictions(ex, [dict(example_id='q1'), dict(example_id='q2')], s, s)
    with pytest.raises(ValueError, match="features have no 'example_id' field"):
        postprocess_qa_predictions(ex, Dataset.from_list([dict(offset_mapping=OFFS)] * 2), s, s)
    with pytest.raises(ValueError, match="example 'q2' has no window"):
        postprocess_qa_predictions(ex, feats[:1], s[:1], s[:1])
    with pytest.raises(ValueError, match="window 1 has example_id 'q2', which is not among the examples' ids"):
        postprocess_qa_predictions(ex[:1], feats, s, s)
    with pytest.raises(ValueError, match="example id 'q1' appears more than once"):
        postprocess_qa_predictions(ex + ex[:1], feats, s, s)
    with pytest.raises(ValueError, match="examples have no 'context' field"):
        postprocess_qa_predictions([dict(id='q1'), dict(id='q2')], feats, s, s)
    with pytest.raises(ValueError, match='window 0 needs 13 logits'):
        postprocess_qa_predictions(ex, feats, s[:, :10], s[:, :10])
    with pytest.raises(ValueError, match='not finite'):
        postprocess_qa_predictions(ex, feats, np.full_like(s, np.nan), s)
    with pytest.raises(ValueError, match='candidates cover 1 windows but features have 2'):
        decode_candidates(ex, feats, window_candidates(s[:1], s[:1], read_windows(feats)[:1]))
