"Loading SQuAD: hub, file, folder and bundled sample; the same rows as the hub's conversion; one test per kind of bad input."
import copy, json
import pytest
from datasets import Dataset, DatasetDict
import squad_nb.data as data
from squad_nb.data import *
from conftest import shared_path

TINY = {'version': 'v2.0', 'data': [{'title': 'Normans', 'paragraphs': [{
    'context': 'The Normans gave their name to Normandy, a region in France.',
    'qas': [{'id': 'q1', 'question': 'In what country is Normandy?', 'is_impossible': False,
             'answers': [{'text': 'France', 'answer_start': 53}]},
            {'id': 'q2', 'question': 'Who gave their name to Paris?', 'is_impossible': True, 'answers': []}]}]}]}

def write(tmp_path, obj, name='squad.json'):
    p = tmp_path/name
    if isinstance(obj, bytes): p.write_bytes(obj)
    else: p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding='utf-8')
    return p

def broken(f):
    d = copy.deepcopy(TINY); f(d['data'][0]['paragraphs'][0]); return d

def test_shared_train_equals_hub_conversion(seed):
    "Same rows, same order, same values as the hub-style conversion of the official file; hub column types."
    path = shared_path('data', 'squad_v2', 'train.json')
    ours, ref = load_squad(path), seed.squad_json_to_dataset(str(path))
    assert isinstance(ours, Dataset) and len(ours) == len(ref) == 3720
    assert ours.column_names == ['id', 'title', 'context', 'question', 'answers']
    assert ours[:] == ref[:]
    assert ours.features['answers']['answer_start'].feature.dtype == 'int32'
    assert sum(not a['text'] for a in ours['answers']) == 1990

def test_folder_gives_train_and_validation(tmp_path):
    for valid_name in ('valid.json', 'dev.json'):
        d = tmp_path/valid_name.split('.')[0]; d.mkdir()
        write(d, TINY, 'train.json'); write(d, TINY, valid_name)
        dd = load_squad(d)
        assert isinstance(dd, DatasetDict) and list(dd) == ['train', 'validation'] and len(dd['validation']) == 2
    empty = tmp_path/'empty'; empty.mkdir()
    with pytest.raises(FileNotFoundError, match='train.json and valid.json'): load_squad(empty)

def test_sample_is_bundled_small_and_credited():
    dd = load_squad('sample')
    assert len(dd['train']) > 500 and len(dd['validation']) > 150
    assert 0 < sum(not a['text'] for a in dd['validation']['answers']) < len(dd['validation'])
    size = sum(p.stat().st_size for p in sample_dir().iterdir())
    assert size < 1_000_000
    assert 'CC BY-SA 4.0' in (sample_dir()/'README.md').read_text()

def test_v11_file_every_question_answerable(tmp_path):
    v11 = copy.deepcopy(TINY); v11['version'] = '1.1'
    qas = v11['data'][0]['paragraphs'][0]['qas']; qas.pop(); del qas[0]['is_impossible']
    ds = load_squad(write(tmp_path, v11))
    assert ds[0]['answers'] == {'text': ['France'], 'answer_start': [53]}

def test_hub_name_goes_to_load_dataset(monkeypatch):
    import datasets
    calls = []
    monkeypatch.setattr(datasets, 'load_dataset', lambda name, **kw: calls.append(name) or 'hub-data')
    assert load_squad('squad_v2') == 'hub-data' and load_squad('rajpurkar/squad_v2') == 'hub-data'
    assert calls == ['squad_v2', 'rajpurkar/squad_v2']

def test_hub_failure_names_offline_alternative(monkeypatch):
    import datasets
    def fail(name, **kw): raise OSError("couldn't reach the hub")
    monkeypatch.setattr(datasets, 'load_dataset', fail)
    with pytest.raises(ConnectionError, match=r"load_squad\('sample'\)"): load_squad('squad_v2')

# --- bad input: one test per case, each message names the file and, where there is one, the id and field

def test_missing_file():
    with pytest.raises(FileNotFoundError, match='no/such/dev.json'): load_squad('no/such/dev.json')

def test_malformed_json_line_and_column(tmp_path):
    p = write(tmp_path, '{"data": [\n  {"title": "x",, }]}')
    with pytest.raises(SquadFormatError, match=r'squad.json: malformed JSON at line 2, column 17'): load_squad(p)

def test_not_squad(tmp_path):
    with pytest.raises(SquadFormatError, match="squad.json: not a SQuAD file"): load_squad(write(tmp_path, {'version': 'v2.0', 'rows': []}))

def test_question_without_id(tmp_path):
    with pytest.raises(SquadFormatError, match="squad.json.*question without field 'id'"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][0].pop('id'))))

def test_question_without_question(tmp_path):
    with pytest.raises(SquadFormatError, match="question id 'q2': missing or non-string field 'question'"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][1].pop('question'))))

def test_paragraph_without_context(tmp_path):
    with pytest.raises(SquadFormatError, match="squad.json: article 0 \\('Normans'\\), paragraph 0: paragraph without field 'context'"):
        load_squad(write(tmp_path, broken(lambda p: p.pop('context'))))

def test_answer_start_not_pointing_at_text(tmp_path):
    with pytest.raises(SquadFormatError, match="question id 'q1', field 'answers.answer_start': 50 points at 'in '"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][0]['answers'][0].update(answer_start=50, text='Fra'))))

def test_duplicate_ids(tmp_path):
    with pytest.raises(SquadFormatError, match="question id 'q1': duplicate id"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][1].update(id='q1'))))

def test_answerable_without_answers(tmp_path):
    with pytest.raises(SquadFormatError, match="question id 'q1', field 'answers': an answerable question"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][0].update(answers=[]))))
    ds = load_squad(write(tmp_path, broken(lambda p: p['qas'][0].update(answers=[]))), require_answers=False)
    assert ds[0]['answers']['text'] == []

def test_non_utf8_file(tmp_path):
    raw = json.dumps(TINY).replace('France', 'Fr\\u00e4nce').encode().replace(b'\\u00e4', b'\xe4')
    with pytest.raises(SquadFormatError, match=r'squad.json: not UTF-8 text \(invalid byte at position \d+\)'): load_squad(write(tmp_path, raw))

def test_zero_questions(tmp_path):
    with pytest.raises(SquadFormatError, match='squad.json: the file holds 0 questions'):
        load_squad(write(tmp_path, broken(lambda p: p.update(qas=[]))))

def test_empty_or_whitespace_context(tmp_path):
    for ctx in ('', ' \n\t'):
        with pytest.raises(SquadFormatError, match="paragraph 0, field 'context': the context is empty or whitespace"):
            load_squad(write(tmp_path, broken(lambda p: p.update(context=ctx))))

def test_answer_differs_only_in_case(tmp_path):
    with pytest.raises(SquadFormatError, match="'france'.*differs only in case"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][0]['answers'][0].update(text='france'))))

def test_ids_not_strings(tmp_path):
    with pytest.raises(SquadFormatError, match="question id 17: field 'id' must be a string, got int"):
        load_squad(write(tmp_path, broken(lambda p: p['qas'][0].update(id=17))))

def test_show_random_elements_repeatable_and_bounded():
    ds = load_squad('sample')['validation']
    a, b, c = (show_random_elements(ds, 5, seed=s).data for s in (3, 3, 4))
    assert a == b and a != c and a.count('<tr>') == 5
    with pytest.raises(ValueError, match='n=1000 distinct rows: the data set has only 227'): show_random_elements(ds, 1000)
