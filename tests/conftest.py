"Shared fixtures: the ../shared data beside the project (a missing file fails, never skips), the seed functions, a tokenizer, the tiny model."
import re, sys, importlib
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'

MD_LINK = re.compile(r'(?<!!)\[([^\]]*)\]\(([^)\s]+)\)')  # a markdown link (not an image): text, target

def heading_id(text:str) -> str:
    "The identifier pandoc (and so Quarto) gives a heading: its plain text, lower-cased, without punctuation but _ - ., words joined by -."
    text = MD_LINK.sub(r'\1', text).replace('`', '')
    text = ''.join(c for c in text.lower() if c.isalnum() or c.isspace() or c in '_-.')
    text = '-'.join(text.split())
    i = next((i for i, c in enumerate(text) if c.isalpha()), len(text))  # from the first letter
    return text[i:] or 'section'

def shared_path(*parts) -> Path:
    "A file under ../shared; fail (never skip) when it is missing."
    p = SHARED.joinpath(*parts)
    if not p.exists(): pytest.fail(f"missing {p}: the tests need the shared data folder beside the project root")
    return p

@pytest.fixture(scope='session')
def seed():
    "The starting notebook's functions (../shared/seed/seed_reference.py), the baseline peer."
    folder = str(shared_path('seed', 'seed_reference.py').parent)
    if folder not in sys.path: sys.path.insert(0, folder)
    return importlib.import_module('seed_reference')

@pytest.fixture(scope='session')
def tokenizer():
    from squad_nb.features import load_tokenizer
    return load_tokenizer('minilm-local')

@pytest.fixture(scope='session')
def tiny_model(tokenizer):
    "The package's tiny random BERT with the MiniLM vocabulary (its answers are noise, but deterministic)."
    from squad_nb.model import tiny_qa_model
    return tiny_qa_model(tokenizer.vocab_size).eval()

@pytest.fixture(scope='session')
def tiny(tiny_model, tokenizer, tmp_path_factory):
    "The tiny model saved as squad_nb saves a trained one."
    from squad_nb.model import save_qa_model
    return save_qa_model(tiny_model, tokenizer, tmp_path_factory.mktemp('m')/'tiny', dict(null_threshold=0.0, max_length=384, doc_stride=128))
