import pytest

from marketprism_fast import parsers


def parser_implementations() -> list[str]:
    """Implementations under test: both when the compiled core is built (CI requires it)."""
    impls = ["reference"]
    if parsers.compiled_available():
        impls.insert(0, "compiled")
    return impls


@pytest.fixture(params=parser_implementations())
def implementation(request) -> str:
    return request.param
