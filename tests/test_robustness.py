"Robustness: streamed evaluation equals the all-logits path, one-sided subsets, window settings, long unicode contexts, bad input through the CLI."
import copy, json, os, subprocess, sys
import numpy as np
import pytest, torch
from datasets import Dataset
from transformers import DataCollatorWithPadding
from transformers.modeling_outputs import QuestionAnsweringModelOutput
from squad_nb.data import load_squad
from squad_nb.features import tokenize_dataset
from squad_nb.postprocess import postprocess_qa_predictions, get_predictions, get_null_score_diffs
from squad_nb.metric import squad_v2_score, threshold_curve
from squad_nb.inference import score_windows
from squad_nb.model import QAModel, save_qa_model
from squad_nb.train import train_qa
from squad_nb.evaluate import evaluate_qa, predict
from squad_nb import cli
from conftest import ROOT

ENV = dict(os.environ, TOKENIZERS_PARALLELISM='false', OMP_NUM_THREADS='1')

@pytest.fixture(scope='module')
def model(tiny_model): return tiny_model

# --- streamed evaluation == keeping every window's logits

def all_logits(model, feats, collator, batch_size, width=384):
    "Every window's logits in one [windows, 384] array padded with -100, as `Trainer.predict` gathers them."
    import numpy as np
    from squad_nb.inference import batch_logits   # the batches `infer_windows` forms, so each float equals the streamed run's
    s, e = np.full((2, len(feats), width), -100, np.float32)
    for idx, out in batch_logits(model, feats, collator, batch_size, progress=False):
        w = out.start_logits.shape[1]
        s[idx, :w], e[idx, :w] = out.start_logits.numpy(), out.end_logits.numpy()
    return s, e

def test_streamed_evaluation_equals_all_logits(model, tokenizer):
    "Per-batch top-k state, decoded at the end, gives exactly the answers, null odds and n-best lists of post-processing all logits at once."
    ds = load_squad('sample')['validation']
    feats = tokenize_dataset(ds, tokenizer, train=False, max_length=128, doc_stride=32)   # short windows: many questions span several
    assert len(feats) > 2*len(ds) and len(feats) > 4*16
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    streamed = score_windows(model, ds, feats, collator, batch_size=16, progress=False)
    full = postprocess_qa_predictions(ds, feats, *all_logits(model, feats, collator, 16))
    assert streamed.result.ids == full.ids == ds['id']
    assert get_predictions(streamed.result) == get_predictions(full)
    assert get_null_score_diffs(streamed.result) == get_null_score_diffs(full)
    for k in ('score', 'null_score', 'start_char', 'end_char'): assert np.array_equal(getattr(streamed.result, k), getattr(full, k)), k
    assert streamed.result.nbest() == full.nbest()
    forced = streamed.metrics.pop('HasAns_f1_forced')
    assert streamed.metrics == squad_v2_score(get_predictions(full), ds, null_score_diff=get_null_score_diffs(full), no_answer_threshold=0.0)
    assert forced == squad_v2_score(dict(zip(full.ids, full.text)), ds)['HasAns_f1']

# --- subsets with only answerable, or only unanswerable, questions

@pytest.mark.parametrize('answerable', [True, False])
def test_one_sided_subset_evaluates(tiny, answerable):
    "evaluate_qa, qa_report and threshold_curve on a subset without unanswerable (or without answerable) questions: the missing side's keys are absent, nothing crashes."
    va = load_squad('sample')['validation']
    sub = va.select([i for i, a in enumerate(va['answers']) if bool(a['text']) == answerable][:12])
    r = evaluate_qa(tiny, sub, progress=False)
    side, other = ('HasAns', 'NoAns') if answerable else ('NoAns', 'HasAns')
    for m in (r.metrics, r.metrics['at_best_threshold']):
        assert {f'{side}_exact', f'{side}_f1', f'{side}_total', 'exact', 'f1', 'best_f1', 'best_f1_thresh'} <= set(m)
        assert not any(k.startswith(other) for k in m) and m[f'{side}_total'] == m['total'] == 12
    assert len(r.report) == 12 and r.report.has_answer.all() == answerable and (~r.report.has_answer).all() != answerable
    curve = threshold_curve(dict(zip(r.result.ids, r.result.text)), sub, get_null_score_diffs(r.result))   # best spans, as the metric's best_f1
    assert list(curve.columns) == ['threshold', 'kept', 'exact', 'f1', f'{side}_exact', f'{side}_f1']
    assert curve.f1.max() == pytest.approx(r.metrics['best_f1'], abs=1e-9)

# --- window settings and over-long questions

def test_doc_stride_too_large_refused_through_cli(tiny, tmp_path):
    out = tmp_path/'out'
    p = subprocess.run([sys.executable, '-m', 'squad_nb.cli', 'train', '--model', str(tiny), '--data', 'sample', '--output', str(out),
                        '--doc-stride', '400', '--max-length', '384', '--max-train', '4', '--max-eval', '4'],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 1 and 'doc_stride=400' in p.stderr and 'max_length=384' in p.stderr and 'Traceback' not in p.stderr
    assert not (out/'config.json').exists()

def test_bad_setting_with_overwrite_keeps_existing_model(model, tokenizer, tmp_path):
    out = save_qa_model(model, tokenizer, tmp_path/'existing', dict(null_threshold=0.0))
    with pytest.raises(ValueError, match='doc_stride=400'):
        train_qa((model, tokenizer), 'sample', out, overwrite=True, doc_stride=400, max_train=4, max_eval=4, progress=False)
    assert (out/'config.json').exists() and (out/'model.safetensors').exists(), 'a refused run must not delete the model it would replace'

def test_overlong_question_truncated_with_warning_still_answered(tiny):
    ctx = 'The Normans gave their name to Normandy, a region in France. They were descended from Norse raiders. ' * 4
    qs = [' '.join(['why'] * 300) + '?', 'Where is Normandy?']
    with pytest.warns(UserWarning, match=r"question of example 'q0' has \d+ tokens: truncated"):
        out = predict(tiny, qs, [ctx, ctx])
    assert [o['id'] for o in out] == ['q0', 'q1']
    for o in out: assert o['best_span'] and ctx[o['start']:o['end']] == o['best_span']

# --- long contexts with unicode: characters index the original context exactly

SPAN = 'Zürich\u00a0\t  東京 🙂 Ångström'   # starts with the token 'zurich', ends with '##strom'
FILLER = 'Le café\u00a0noir est servi à Paris\t\tavec  des croissants; 北京は大きい 🙂 e\u0301te\u0301,  na\u00efve\u3000façade. '

def long_context(at:int, n=60):
    "About 1,700 tokens of accented, CJK, emoji, tab, repeated- and non-breaking-space text, with `SPAN` after sentence `at`."
    return FILLER*at + SPAN + ' ' + FILLER*(n - at)

class Oracle(torch.nn.Module):
    "A QA 'model' whose best span runs from the first token id to the second: the right answer is known exactly."
    def __init__(self, start_id, end_id):
        super().__init__()
        self.ids, self.dummy = (start_id, end_id), torch.nn.Parameter(torch.zeros(1))
    def forward(self, input_ids, **kwargs):
        s, e = ((input_ids == i).float()*10 for i in self.ids)
        return QuestionAnsweringModelOutput(start_logits=s, end_logits=e)

@pytest.fixture(scope='module')
def long_squad(tmp_path_factory):
    "A SQuAD file without answers: the span in the first window, in a middle one, and at the end of a long context."
    qas = [dict(id=f'at{k}', question='Which city, in Ångström?', context=long_context(k)) for k in (1, 30, 60)]
    d = {'version': 'v2.0', 'data': [{'title': 'long', 'paragraphs': [
        {'context': q['context'], 'qas': [{'id': q['id'], 'question': q['question'], 'answers': []}]} for q in qas]}]}
    p = tmp_path_factory.mktemp('long')/'long.json'; p.write_text(json.dumps(d, ensure_ascii=False), encoding='utf-8')
    return p, qas

def test_long_unicode_context_exact_characters(tokenizer, long_squad):
    path, qas = long_squad
    feats = tokenize_dataset(load_squad(path, require_answers=False), tokenizer, train=False)
    for q in qas:
        wins = [o for i, o in zip(feats['example_id'], feats['offset_mapping']) if i == q['id']]
        assert len(wins) >= 5, 'the context must need several windows'
        if q['id'] != 'at1': assert max(x[1] for x in wins[0] if x) < q['context'].index(SPAN), 'span beyond the first window'
    oracle = QAModel(Oracle(*tokenizer.convert_tokens_to_ids(['zurich', '##strom'])), tokenizer, dict(null_threshold=0.0), False)
    from_file = predict(oracle, data=path)
    from_lists = predict(oracle, [q['question'] for q in qas], [q['context'] for q in qas])
    assert [o['id'] for o in from_file] == [q['id'] for q in qas] and [o['id'] for o in from_lists] == ['q0', 'q1', 'q2']
    for q, a, b in zip(qas, from_file, from_lists):
        start = q['context'].index(SPAN)
        assert (a['start'], a['end'], a['answer'], a['no_answer']) == (start, start + len(SPAN), SPAN, False)
        assert (b['start'], b['end'], b['answer']) == (a['start'], a['end'], a['answer'])

def test_long_unicode_context_spans_on_token_boundaries(tiny, tokenizer, long_squad):
    "A real (tiny) model's answers: start and end fall on the context's token boundaries and slice the original text."
    path, qas = long_squad
    out = predict(tiny, data=path)
    for q, o in zip(qas, out):
        offs = tokenizer(q['context'], add_special_tokens=False, return_offsets_mapping=True)['offset_mapping']
        assert o['start'] in {s for s, _ in offs} and o['end'] in {e for _, e in offs} and o['start'] < o['end']
        assert q['context'][o['start']:o['end']] == o['best_span'] and o['answer'] in ('', o['best_span'])

def test_context_without_tokens(model, tokenizer):
    "A context the tokenizer reduces to nothing (zero-width spaces) is named in a warning and answered ''."
    with pytest.warns(UserWarning, match="example 'q0' has no tokens"): out = predict(QAModel(model, tokenizer, {}, False), 'What is it?', '\u200b\u200b')
    assert out[0]['answer'] == '' and out[0]['no_answer']

def test_several_questions_about_one_context(model, tokenizer):
    "A single context string is shared by every question (never split into characters)."
    ctx = 'Paris is the capital of France.'
    out = predict(QAModel(model, tokenizer, {}, False), ['Where is Paris?', 'What is Paris?'], ctx)
    assert len(out) == 2 and all(ctx[o['start']:o['end']] == o['best_span'] and o['best_span'] for o in out)
    with pytest.raises(ValueError, match='got 2 questions but 3 contexts'): predict(QAModel(model, tokenizer, {}, False), ['a?', 'b?'], ['x', 'y', 'z'])

def test_predict_dataset_without_answers(model, tokenizer):
    ds = Dataset.from_dict(dict(id=['x'], question=['Where is Paris?'], context=['Paris is in France.']))
    assert predict(QAModel(model, tokenizer, {}, False), data=ds)[0]['id'] == 'x'

# --- bad data through the CLI: exit 1, a message naming the item, earlier outputs untouched

TINY = {'version': 'v2.0', 'data': [{'title': 'Normans', 'paragraphs': [{
    'context': 'The Normans gave their name to Normandy, a region in France.',
    'qas': [{'id': 'q1', 'question': 'In what country is Normandy?', 'answers': [{'text': 'France', 'answer_start': 53}]},
            {'id': 'q2', 'question': 'Who gave their name to Paris?', 'is_impossible': True, 'answers': []}]}]}]}

def bad_file(tmp_path, case):
    "A SQuAD file with one kind of fault, and what the error must say."
    d = copy.deepcopy(TINY); p = d['data'][0]['paragraphs'][0]; f = tmp_path/'bad.json'
    if case == 'not-utf8':
        f.write_bytes(json.dumps(d).replace('France', 'Fr\\u00e4nce').encode().replace(b'\\u00e4', b'\xe4'))
        return f, [r'bad.json: not UTF-8']
    if case == 'no-questions': p['qas'] = []
    if case == 'blank-context': p['context'] = ' \t\n '
    if case == 'case-only-answer': p['qas'][0]['answers'][0]['text'] = 'france'
    if case == 'int-id': p['qas'][1]['id'] = 17
    f.write_text(json.dumps(d), encoding='utf-8')
    return f, {'no-questions': ['bad.json: the file holds 0 questions'],
               'blank-context': ["bad.json: article 0 ('Normans'), paragraph 0, field 'context'", 'empty or whitespace'],
               'case-only-answer': ["question id 'q1'", "'france'", 'differs only in case'],
               'int-id': ["question id 17: field 'id' must be a string"]}[case]

def sentinel(out):
    "An output folder holding an earlier evaluation's files."
    out.mkdir(); (out/'metrics.json').write_text('{"f1": 12.5}'); (out/'predictions.json').write_text('{"q1": "earlier"}')
    return {p.name: p.read_bytes() for p in out.iterdir()}

@pytest.mark.parametrize('case', ['not-utf8', 'no-questions', 'blank-context', 'case-only-answer', 'int-id'])
def test_bad_data_cli_exit_1_names_item_keeps_outputs(tiny, tmp_path, capsys, case):
    f, says = bad_file(tmp_path, case)
    out = tmp_path/'eval'; before = sentinel(out)
    with pytest.raises(SystemExit) as ex: cli.main(['evaluate', str(tiny), '--data', str(f), '--output', str(out)])
    err = capsys.readouterr().err
    last = err.rstrip('\n').split('\n')[-1]
    assert ex.value.code == 1 and last.startswith('squad_nb evaluate: error: ') and 'Traceback' not in err
    for s in says: assert s in last, (s, last)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, 'earlier outputs must stay untouched'

def test_bad_data_real_command(tiny, tmp_path):
    "The same through `python -m squad_nb.cli`: the exit status and stderr a shell sees."
    f, says = bad_file(tmp_path, 'case-only-answer')
    out = tmp_path/'eval'; before = sentinel(out)
    p = subprocess.run([sys.executable, '-m', 'squad_nb.cli', 'evaluate', str(tiny), '--data', str(f), '--output', str(out)],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 1 and all(s in p.stderr for s in says) and 'Traceback' not in p.stderr and not p.stdout.strip()
    assert {q.name: q.read_bytes() for q in out.iterdir()} == before
