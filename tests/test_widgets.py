"""`squad_nb.widgets` without a kernel: the HTML views (marks at the right characters, escaping, "no answer",
window overlaps and labels) and the widget classes (controls, and the static HTML they give to pages without a kernel)."""
import html, re
from html.parser import HTMLParser
import numpy as np
import pytest
from matplotlib.colors import to_hex
import matplotlib.pyplot as plt
from squad_nb.data import load_squad
from squad_nb.features import prepare_validation_features, tokenize_dataset
from squad_nb.postprocess import postprocess_qa_predictions, get_predictions, get_null_score_diffs, sample_logits
from squad_nb.metric import qa_report, category_counts, plot_categories, CATEGORIES, CATEGORY_COLOURS
import squad_nb.widgets
from squad_nb.widgets import (mark_spans, answer_spans, locate_answer, example_html, window_tokens, windows_html,
                              error_row_html, category_bars_html, error_table_html, static_widget_views, WIDGET_VIEW,
                              show_answer, ExampleBrowser, WindowViewer, ErrorBrowser)

CTX = 'The Normans gave their name to Normandy, a region in France.'
ANSWERABLE = dict(id='q1', title='Normans', context=CTX, question='In what country is Normandy located?',
                  answers=dict(text=['France', 'in France'], answer_start=[53, 50]))
UNANSWERABLE = dict(id='q2', title='Normans', context=CTX, question='Who gave Normandy to France?', answers=dict(text=[], answer_start=[]))
SCRIPT = dict(id='q3<x>', title='<b>HTML</b>', context='Pages run <script>alert(1)</script> & more.',
              question='What runs <i>here</i>?', answers=dict(text=['<script>alert(1)</script>'], answer_start=[10]))
NORSE = dict(id='w1', title='Normans', question='Where did the raiders come from?',
             context='The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, '
                     'a region in France. They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.',
             answers=dict(text=['Denmark, Iceland and Norway'], answer_start=[168]))


class Marks(HTMLParser):
    "Reads the paragraph (the `sq-context` div) of a view back: its text, and kind -> marked character ranges."
    def __init__(self, h):
        super().__init__(convert_charrefs=True)
        self.depth, self.stack, self.parts, self.marks = 0, [], [], {}
        self.feed(h); self.close()
        self.text = ''.join(self.parts)

    def handle_starttag(self, tag, attrs):
        cls = (dict(attrs).get('class') or '').split()
        if self.depth:
            if tag == 'div': self.depth += 1
            if tag == 'span': self.stack.append(cls)
        elif tag == 'div' and 'sq-context' in cls: self.depth = 1

    def handle_endtag(self, tag):
        if not self.depth: return
        if tag == 'span': self.stack.pop()
        elif tag == 'div': self.depth -= 1

    def handle_data(self, data):
        if not self.depth: return
        pos = sum(map(len, self.parts)); self.parts.append(data)
        for c in {c for cs in self.stack for c in cs}:
            rs = self.marks.setdefault(c.removeprefix('sq-'), [])
            if rs and rs[-1][1] == pos: rs[-1] = (rs[-1][0], pos + len(data))
            else: rs.append((pos, pos + len(data)))


def token_marks(h):
    "mark -> tokens carrying it in a windows view (token runs are `sq-run` spans of space-separated tokens)."
    class P(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True); self.cls, self.out = None, {}
        def handle_starttag(self, tag, attrs):
            c = (dict(attrs).get('class') or '').split()
            if tag == 'span' and 'sq-run' in c: self.cls = c[1:]
        def handle_endtag(self, tag): self.cls = None
        def handle_data(self, data):
            for c in self.cls or []: self.out[c.removeprefix('sq-')] = self.out.get(c.removeprefix('sq-'), 0) + len(data.split(' '))
    p = P(); p.feed(h); p.close()
    return p.out


# ---- marking spans

def test_mark_spans_escapes_and_splits_overlaps():
    assert mark_spans('a <b> & "c"', {}) == 'a &lt;b&gt; &amp; &quot;c&quot;'
    h = mark_spans('in France', {'gold': [(0, 9)], 'pred': [(3, 9)]})
    m = Marks(f'<div class="sq-context">{h}</div>')
    assert m.text == 'in France' and m.marks == {'gold': [(0, 9)], 'pred': [(3, 9)]}
    assert h.count('<span') == 2 and '<span class="sq-gold sq-pred"' in h   # split, not nested
    assert mark_spans('in France', {'gold': [(0, 9), (3, 9)]}).count('<span') == 1   # same kinds merge
    with pytest.raises(ValueError, match='outside the text of 9 characters'): mark_spans('in France', {'gold': [(5, 10)]})
    with pytest.raises(ValueError, match='unknown span kind'): mark_spans('in France', {'answer': [(0, 2)]})


def test_answer_spans_and_locate_answer():
    assert answer_spans(ANSWERABLE) == [(53, 59), (50, 59)]
    assert answer_spans(UNANSWERABLE) == []
    assert locate_answer(CTX, 'Normandy') == (31, 39)       # first occurrence of the whole text
    assert locate_answer(CTX, '') is None and locate_answer(CTX, 'Rollo') is None


# ---- one example

def test_example_html_marks_gold_and_text_prediction():
    h = example_html(ANSWERABLE, 'region in France', null_score_diff=-1.25)
    m = Marks(h)
    assert m.text == CTX
    assert m.marks == {'gold': [(50, 59)], 'pred': [(43, 59)]}
    assert '-1.25' in h and 'exact 0 · F1 0.80' in h


def test_example_html_qaresult_entry_false_no_answer():
    entry = dict(prediction='', text='France', start_char=53, end_char=59, null_score_diff=2.0,
                 nbest=[dict(text='France', start_char=53, end_char=59, score=3.0, probability=0.7),
                        dict(text='Normans', start_char=4, end_char=11, score=2.0, probability=0.3)])
    h = example_html(ANSWERABLE, entry)
    assert Marks(h).marks == {'gold': [(50, 59)], 'best': [(53, 59)]}   # the best span, dashed: not chosen
    assert '<b>Prediction:</b> <b class="sq-noanswer"' in h and '2.00' in h and 'threshold' not in h
    assert h.count('<td>✓</td>') == 1 and h.index('<td>✓</td>') < h.index('Normans</td>')
    assert '2.00 &gt; threshold 1.50' in example_html(ANSWERABLE, entry, null_threshold=1.5)   # above it: no answer
    assert '2.00 ≤ threshold 2.00' in example_html(ANSWERABLE, entry, null_threshold=2.0)
    assert 'sq-nbest' not in example_html(ANSWERABLE, entry, max_nbest=0)


def test_example_html_unanswerable_says_no_answer():
    h = example_html(UNANSWERABLE, '')
    assert 'no answer</b> (the question is unanswerable)' in h
    assert '<b>Prediction:</b> <b class="sq-noanswer"' in h and 'exact 1 · F1 1.00' in h
    assert Marks(h).marks == {}
    h = example_html(UNANSWERABLE, 'Normans')
    assert Marks(h).marks == {'pred': [(4, 11)]} and 'exact 0' in h


def test_example_html_escapes_everything():
    h = example_html(SCRIPT, '<script>alert(1)</script>', nbest=[dict(text='<script>alert(1)</script>', score=1.0, probability=1.0)])
    assert '<script>' not in h and '<i>here</i>' not in h and '<b>HTML</b>' not in h
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in h and 'q3&lt;x&gt;' in h
    m = Marks(h)
    assert m.text == SCRIPT['context'] and m.marks == {'gold': [(10, 35)], 'pred': [(10, 35)]}


def test_example_html_prediction_not_in_paragraph():
    h = example_html(ANSWERABLE, 'Paris')
    assert '(not found in the paragraph)' in h and Marks(h).marks == {'gold': [(50, 59)]}


# ---- one answer, as a page shows it

FALSE_NO_ANSWER = dict(prediction='', text='France', start_char=53, end_char=59, null_score_diff=0.4,
                       nbest=[dict(text='France', start_char=53, end_char=59, score=3.0, probability=1.0)])

def badge(h): return re.search(r'class="sq-category"[^>]*>([^<]*)<', h).group(1)


def test_show_answer_qaresult_entry_abstention():
    v = show_answer(ANSWERABLE, FALSE_NO_ANSWER, null_threshold=-1.0)
    h = v.data
    assert hasattr(v, '_repr_html_') and badge(h) == 'false no-answer' and CATEGORY_COLOURS['false no-answer'] in h
    assert Marks(h).marks == {'gold': [(50, 59)], 'best': [(53, 59)]}            # the span it found, dashed
    assert '<b>Prediction:</b> <b class="sq-noanswer"' in h and '0.40 &gt; threshold -1.00' in h
    assert 'sq-nbest' not in h and 'sq-nbest' in show_answer(ANSWERABLE, FALSE_NO_ANSWER, max_nbest=3).data


def test_show_answer_texts_and_report_rows(small):
    got = [badge(show_answer(ANSWERABLE, t).data) for t in ('France', 'in France', 'region in France', 'Normandy', '')]
    assert got == ['correct', 'correct', 'partial', 'wrong span', 'false no-answer']
    assert [badge(show_answer(UNANSWERABLE, t).data) for t in ('', 'Normans')] == ['correct', 'false answer']
    assert badge(show_answer(ANSWERABLE, 'France', category='partial').data) == 'partial'   # as given
    h = show_answer(UNANSWERABLE, small.iloc[1], null_threshold=0.0).data       # a report row: its category and null_score_diff
    assert badge(h) == 'false answer' and '-0.50 ≤ threshold 0.00' in h and Marks(h).marks == {'pred': [(4, 11)]}
    row = dict(small.iloc[1], null_score_diff=float('nan'))                      # a report without no-answer scores
    assert 'null_score_diff' not in show_answer(UNANSWERABLE, row).data
    h = show_answer(SCRIPT, small.iloc[2]).data
    assert '<script>' not in h and badge(h) == 'false no-answer'


def test_one_palette_for_plot_and_html(small):
    assert squad_nb.widgets.CATEGORY_COLOURS is CATEGORY_COLOURS and list(CATEGORY_COLOURS) == CATEGORIES
    ax = plot_categories(small)
    assert [to_hex(b.get_facecolor()) for b in ax.patches] == [CATEGORY_COLOURS[c] for c in reversed(CATEGORIES)]
    plt.close(ax.figure)
    h = category_bars_html(small)
    assert re.findall(r'class="sq-bar" style="background:(#[0-9a-f]{6})', h) == [CATEGORY_COLOURS[c] for c in CATEGORIES]


# ---- windows

@pytest.mark.parametrize('max_length,doc_stride', [(32, 8), (40, 4), (48, 16)])
def test_window_overlap_marks_count_doc_stride(tokenizer, max_length, doc_stride):
    wins = window_tokens(NORSE, tokenizer, max_length, doc_stride)
    assert len(wins) >= 2
    for w in wins[:-1]: assert sum(w['shared_next']) == doc_stride
    for w in wins[1:]: assert sum(w['shared_prev']) == doc_stride
    marks = token_marks(windows_html(wins))
    assert marks['shared-next'] == marks['shared-prev'] == doc_stride * (len(wins) - 1)
    for w in range(len(wins)):   # one window alone carries its own marks
        one = token_marks(windows_html(wins, w))
        assert one.get('shared-prev', 0) == sum(wins[w]['shared_prev']) and one.get('shared-next', 0) == sum(wins[w]['shared_next'])


def test_window_labels_and_cls(tokenizer):
    wins = window_tokens(NORSE, tokenizer, 32, 8)
    assert [(w['start'], w['end']) for w in wins] == [(0, 0), (0, 0), (14, 18)]
    h = windows_html(wins)
    assert h.count('labels → <b>CLS</b> (token 0): the answer is not wholly inside this window') == 2
    assert 'labels → tokens 14–18: “Denmark, Iceland and Norway”' in h
    assert token_marks(windows_html(wins, 0))['label'] == 1          # the CLS token
    assert token_marks(windows_html(wins, 2))['label'] == 5          # denmark , iceland and norway
    first = windows_html(wins, 0)
    assert '<span class="sq-run sq-special sq-label"' in first and first.count('class="sq-window"') == 1
    kinds = wins[0]['kinds']
    assert kinds[0] == kinds[8] == kinds[-1] == 'special' and set(kinds[1:8]) == {'question'}
    h = windows_html(window_tokens(dict(NORSE, answers=dict(text=[], answer_start=[])), tokenizer, 32, 8))
    assert h.count('the question has no answer') == 3
    with pytest.raises(IndexError, match='there are 3 windows'): windows_html(wins, 3)


def test_windows_html_escapes(tokenizer):
    h = windows_html(window_tokens(SCRIPT, tokenizer, 64, 16))
    assert '<script>' not in h and '&lt;' in h and '“&lt;script&gt;alert(1)&lt;/script&gt;”' in h


def test_long_sample_example_windows(tokenizer):
    long = load_squad('sample')['train'][401]
    wins = window_tokens(long, tokenizer)
    assert len(wins) == 3 and [sum(w['shared_next']) for w in wins] == [128, 128, 0]
    assert [w['label_text'] for w in wins] == ['Commission v France'] * 2 + ['']
    for w in wins:   # the labelled characters are those of the gold answer
        if w['label_text']: assert long['context'][w['offsets'][w['start']][0]:w['offsets'][w['end']][1]] == long['answers']['text'][0]


# ---- errors

@pytest.fixture(scope='module')
def small():
    return qa_report([ANSWERABLE, UNANSWERABLE, SCRIPT], {'q1': 'region in France', 'q2': 'Normans', 'q3<x>': ''},
                     {'q1': -3.0, 'q2': -0.5, 'q3<x>': 2.0})


def test_error_row_and_tables(small):
    h = error_row_html(small.iloc[1])
    assert '>false answer</span>' in h and '<b>Gold:</b> <b class="sq-noanswer"' in h and '-0.50' in h
    h = error_row_html(small.iloc[2])
    assert '<b>Prediction:</b> <b class="sq-noanswer"' in h and '<script>' not in h and '<i>' not in h
    h = category_bars_html(small, 'partial')
    left = '<td style="text-align:left">'
    assert f'<tr style="font-weight:bold">{left}partial</td><td style="text-align:right">1</td>' in h
    assert f'{left}false answer</td><td style="text-align:right">1</td>' in h and f'{left}wrong span</td><td style="text-align:right">0</td>' in h
    assert error_table_html(small, 'false no-answer').count('<tr><td') == 1
    assert error_table_html(small).count('<tr><td') == 3 and error_table_html(small, n=1).count('<tr><td') == 1
    with pytest.raises(ValueError, match='unknown category'): error_table_html(small, 'nope')


# ---- the widgets, with the sample

@pytest.fixture(scope='module')
def sample_run(tokenizer):
    "The first 40 validation questions, answered by logits peaked on each window's labels, some made wrong."
    valid = load_squad('sample')['validation'].select(range(40))
    feats = prepare_validation_features(valid[:], tokenizer, labels=True)
    rng = np.random.default_rng(0)
    starts, ends = [], []
    for k, (s, e, ids) in enumerate(zip(feats['start_positions'], feats['end_positions'], feats['input_ids'])):
        sl, el = rng.normal(0, 0.1, len(ids)), rng.normal(0, 0.1, len(ids))
        if k % 4 != 3: sl[s] += 5; el[e] += 5     # every 4th window: noise only
        starts.append(sl); ends.append(el)
    res = postprocess_qa_predictions(valid, feats, starts, ends)
    return valid, res, qa_report(valid, get_predictions(res), get_null_score_diffs(res))


def test_example_browser_static_html_and_controls(sample_run):
    valid, res, _ = sample_run
    b = ExampleBrowser(valid, res)
    bundle = b._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle['text/html'] == b._repr_html_()
    assert html.escape(valid[0]['question']) in bundle['text/html']
    r = res[valid[0]['id']]
    assert r['prediction'] == 'France'
    m = Marks(b.html())
    assert m.text == valid[0]['context'] and m.marks == {'gold': [(159, 165)], 'pred': [(r['start_char'], r['end_char'])]}
    b.answerable.value = 'unanswerable'
    assert b.slider.max + 1 == sum(not a['text'] for a in valid['answers'])
    assert 'no answer</b> (the question is unanswerable)' in b.html()
    k = next(i for i, a in enumerate(valid['answers']) if a['text'])
    b.search.value = valid[k]['id'][3:12]               # part of an id hidden by the filter
    assert b.ids[b.rows[b.slider.value]] == valid[k]['id'] and b.answerable.value == 'all questions'
    b.search.value = 'no such id'
    assert 'no id contains' in b.status.value


def test_example_browser_text_predictions_and_list_rows():
    rows = [SCRIPT, ANSWERABLE, UNANSWERABLE]
    b = ExampleBrowser(rows, {'q3<x>': 'alert(1)', 'q1': 'France'}, null_score_diff={'q3<x>': -4.0})
    h = b._repr_mimebundle_()['text/html']
    assert html.escape(SCRIPT['question']) in h and '<script>' not in h and '-4.00' in h
    assert Marks(h).marks == {'gold': [(10, 35)], 'pred': [(18, 26)]}
    b.slider.value = 2                                  # no prediction given for q2: none shown
    assert 'Prediction' not in b.html() and 'the question is unanswerable' in b.html()
    b.article.value = '<b>HTML</b>'
    assert b.slider.max == 0 and 'q3&lt;x&gt;' in b.html()
    with pytest.raises(ValueError, match="has no field 'title'"): ExampleBrowser([dict(id='a', context='', question='', answers={})])


def test_window_viewer_static_html_and_controls(tokenizer):
    long = load_squad('sample')['train'][401]
    v = WindowViewer(long, tokenizer)
    h = v._repr_mimebundle_()['text/html']
    assert html.escape(long['question']) in h and h.count('class="sq-window"') == 3
    v.window.value = 1
    assert 'window 2 of 3' in v.html() and 'window 1 of 3' not in v.html()
    v.doc_stride.value = 64                             # re-cut: back to all windows
    assert v.window.value is None and sum(v.windows[0]['shared_next']) == 64
    assert token_marks(v.html())['shared-next'] == 64 * (len(v.windows) - 1)
    v.doc_stride.value = 400
    assert 'doc_stride=400 is too large' in v.html() and v.windows == []


def test_error_browser_static_html_and_controls(sample_run, small):
    valid, res, report = sample_run
    e = ErrorBrowser(report, valid, res)
    counts = category_counts(report)
    largest = max(CATEGORIES[1:], key=lambda c: counts[c])      # the first of the largest error categories
    assert e.category.value == largest and e.slider.max + 1 == counts[largest]
    row = report[report.category == largest].iloc[0]
    h = e._repr_mimebundle_()['text/html']
    assert html.escape(row['question']) in h and 'class="sq-categories"' in h and 'class="sq-context"' in h
    e.category.value = 'all'
    assert e.slider.max + 1 == len(report)
    e = ErrorBrowser(small, [ANSWERABLE, UNANSWERABLE, SCRIPT])
    e.category.value = 'false answer'
    assert Marks(e.html()).marks == {'pred': [(4, 11)]}
    e.category.value = 'wrong span'
    assert 'No question in this category' in e.html()
    e = ErrorBrowser(small)                             # without examples: the report's row only
    assert '<div class="sq-error"' in e.html() and 'sq-context' not in e.html()


def test_error_browser_opens_on_the_largest_error_category(small):
    two_false = qa_report([ANSWERABLE, UNANSWERABLE, dict(UNANSWERABLE, id='q4')], {'q1': 'in France', 'q2': 'Normans', 'q4': 'France'})
    assert ErrorBrowser(two_false).category.value == 'false answer'                  # 2 false answers, 1 correct
    assert ErrorBrowser(small).category.value == 'partial'                           # a tie: the first in CATEGORIES
    assert ErrorBrowser(two_false.iloc[:1]).category.value == 'all'                  # no error: all questions
    e = ErrorBrowser(small, [ANSWERABLE, UNANSWERABLE, SCRIPT], category='false answer')
    assert e.category.value == 'false answer' and Marks(e.html()).marks == {'pred': [(4, 11)]}
    assert ErrorBrowser(small, category='all').slider.max == 2
    with pytest.raises(ValueError, match="unknown category 'wrong'"): ErrorBrowser(small, category='wrong')


def test_error_browser_on_the_shipped_logits(tokenizer):
    "The real model of the sample's logits, at its own threshold: most of its errors are false no-answers, where it opens."
    valid = load_squad('sample')['validation']
    lg = sample_logits('validation')
    res = postprocess_qa_predictions(valid, tokenize_dataset(valid, tokenizer, train=False, progress=False), lg['start'], lg['end'],
                                     null_threshold=lg['null_threshold'])
    report = qa_report(valid, get_predictions(res), get_null_score_diffs(res))
    e = ErrorBrowser(report, valid, res)
    counts = category_counts(report)
    assert e.category.value == 'false no-answer' and counts['false no-answer'] == counts[CATEGORIES[1:]].max()
    h = e.html()                                        # its first question: the span it found, dashed, and the threshold it lost to
    r = res[report[report.category == 'false no-answer'].iloc[0]['id']]
    assert 'sq-best' in h and f"{r['null_score_diff']:.2f} &gt; threshold {lg['null_threshold']:.2f}" in h


def test_static_widget_views_processor():
    cell = dict(cell_type='code', outputs=[dict(output_type='execute_result', data={WIDGET_VIEW: {}, 'text/html': 'x', 'text/plain': 'x'}),
                                           dict(output_type='display_data', data={WIDGET_VIEW: {}, 'text/plain': 'y'}),
                                           dict(output_type='stream', text='z')])
    static_widget_views(cell)
    assert [list(o.get('data', {})) for o in cell['outputs']] == [['text/html', 'text/plain'], [WIDGET_VIEW, 'text/plain'], []]
