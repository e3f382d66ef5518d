"Tokenization: same windows and labels as the starting notebook and as the tokenizer's pair encoding; settings and tokenizers that cannot work are refused."
import copy, warnings
import pytest
from transformers import AutoTokenizer
from squad_nb.data import load_squad
from squad_nb.features import *
from squad_nb.features import model_path
from conftest import shared_path

def _unpad(ids, pad_id): return [x for x in ids if x != pad_id]

@pytest.fixture(scope='module')
def train_rows(): return load_squad(shared_path('data', 'squad_v2', 'train.json'))[:]

def test_train_windows_equal_seed(train_rows, tokenizer, seed):
    "Every window's input_ids and labels equal the starting notebook's on the shared train set."
    ref = seed.make_seed_fns(tokenizer)[0](copy.deepcopy(train_rows))
    ours = prepare_train_features(train_rows, tokenizer)
    assert len(ours['input_ids']) == len(ref['input_ids']) == 3910
    for w in range(len(ref['input_ids'])):
        assert ours['input_ids'][w] == _unpad(ref['input_ids'][w], tokenizer.pad_token_id), f"window {w}: input_ids differ"
    assert ours['start_positions'] == ref['start_positions']
    assert ours['end_positions'] == ref['end_positions']
    padded = prepare_train_features(train_rows, tokenizer, pad=True)
    assert padded['input_ids'] == ref['input_ids'] and padded['attention_mask'] == ref['attention_mask']

def test_validation_windows_equal_seed(tokenizer, seed):
    "Validation windows: same ids, same context-only offsets (None elsewhere), example ids, on the shared valid set."
    rows = load_squad(shared_path('data', 'squad_v2', 'valid.json'))[:]
    ref = seed.make_seed_fns(tokenizer)[1](copy.deepcopy(rows))
    ours = prepare_validation_features(rows, tokenizer, pad=True)
    assert ours['input_ids'] == ref['input_ids']
    assert ours['example_id'] == ref['example_id']
    assert ours['offset_mapping'] == [[list(o) if o is not None else None for o in om] for om in ref['offset_mapping']]
    assert all(ids[c] == tokenizer.cls_token_id for ids, c in zip(ours['input_ids'], ours['cls_index']))

def test_left_padding_equals_seed(tokenizer, seed):
    "A tokenizer that pads on the left (context first): same padded windows and labels as the seed's pad_on_right=False path."
    left = AutoTokenizer.from_pretrained(model_path('minilm-local'), padding_side='left')
    rows = load_squad('sample')['train'][:200]
    ref = seed.make_seed_fns(left, max_length=128, doc_stride=32)[0](copy.deepcopy(rows))
    ours = prepare_train_features(rows, left, max_length=128, doc_stride=32, pad=True)
    assert ours['input_ids'] == ref['input_ids']
    assert ours['token_type_ids'] == ref['token_type_ids']
    answerable = [i for i, (s, e) in enumerate(zip(ref['start_positions'], ref['end_positions'])) if s != e or s != 0]
    assert answerable, 'the slice must hold windows with answers'
    # the seed's start loop for left padding skips padding tokens to the context, then agrees with ours
    assert ours['start_positions'] == ref['start_positions'] and ours['end_positions'] == ref['end_positions']

def test_last_token_answer_is_not_pushed_into_padding(tokenizer, seed):
    "The seed's start loop runs past a window whose last context token starts the answer; ours stays on it."
    ctx = 'Normandy is a region in northern France'
    rows = dict(id=['q1'], title=['t'], context=[ctx], question=['Where is Normandy?'],
                answers=[dict(text=['France'], answer_start=[ctx.index('France')])])
    ours = prepare_train_features(rows, tokenizer, pad=True)
    s, e = ours['start_positions'][0], ours['end_positions'][0]
    assert tokenizer.decode(ours['input_ids'][0][s:e+1]) == 'france'
    ref = seed.make_seed_fns(tokenizer)[0](copy.deepcopy(rows))
    assert ref['start_positions'][0] == 383, 'the seed puts this start on the last padding token'

def test_windows_equal_pair_encoding_small_budget(tokenizer):
    "Many windows per example (max_length 128, stride 32): ids, types and context offsets equal the pair encoding."
    rows = load_squad(shared_path('data', 'squad_v2', 'valid.json'))[:]
    ref = tokenizer([q.lstrip() for q in rows['question']], rows['context'], truncation='only_second', max_length=128,
                    stride=32, return_overflowing_tokens=True, return_offsets_mapping=True)
    ours = prepare_validation_features(rows, tokenizer, max_length=128, doc_stride=32)
    assert len(ours['input_ids']) == len(ref['input_ids']) > 2 * len(rows['id'])
    assert ours['input_ids'] == ref['input_ids'] and ours['token_type_ids'] == ref['token_type_ids']
    for w, (om, r) in enumerate(zip(ours['offset_mapping'], ref['offset_mapping'])):
        seq = ref.sequence_ids(w)
        assert om == [list(o) if s == 1 else None for o, s in zip(r, seq)], f"window {w}"

def test_slow_tokenizer_refused():
    from transformers import BertTokenizer
    class Slow:
        is_fast = False
    with pytest.raises(ValueError, match='slow'): check_tokenizer(Slow())
    with pytest.raises(ValueError, match='offset mappings'): prepare_train_features(dict(id=[], question=[], context=[], answers=[]), Slow())

def test_stride_too_large_names_setting(tokenizer):
    rows = load_squad('sample')['validation']
    with pytest.raises(ValueError, match='doc_stride=384 is too large for max_length=384'): tokenize_dataset(rows, tokenizer, doc_stride=384)
    with pytest.raises(ValueError, match='doc_stride=-1'): tokenize_dataset(rows, tokenizer, doc_stride=-1)

def test_overlong_question_truncated_with_warning_not_lost(tokenizer):
    "A question too long for any context to fit is truncated with a warning naming the example; it still gets windows."
    ctx = 'The Normans gave their name to Normandy, a region in France. ' * 3
    rows = dict(id=['long-q', 'ok'], title=['t']*2, context=[ctx]*2, question=['why ' * 300, 'Where is Normandy?'],
                answers=[dict(text=[], answer_start=[]), dict(text=['France'], answer_start=[53])])
    with pytest.warns(UserWarning, match="'long-q'"): feats = prepare_validation_features(rows, tokenizer, max_length=128, doc_stride=32)
    assert feats['example_id'].count('long-q') >= 1 and 'ok' in feats['example_id']
    assert all(len(x) <= 128 for x in feats['input_ids'])
    assert any(o is not None for w, o in zip(feats['example_id'], feats['offset_mapping']) if w == 'long-q' for o in o)

def test_num_proc_gives_same_windows(tokenizer):
    ds = load_squad('sample')['train']
    a, b = tokenize_dataset(ds, tokenizer), tokenize_dataset(ds, tokenizer, num_proc=2)
    assert a['input_ids'] == b['input_ids'] and a['start_positions'] == b['start_positions']
