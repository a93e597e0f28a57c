import pathlib
import sys

# tests/reference.py (mpmath references) and tests/naive.py live beside the tests
sys.path.insert(0, str(pathlib.Path(__file__).parent))
