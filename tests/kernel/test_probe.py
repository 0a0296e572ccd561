import sys
def test_x():
    print(__name__, sys.path[:4])
    import importlib
    importlib.import_module("tests.kernel")
