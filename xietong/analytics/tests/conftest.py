import pytest


@pytest.fixture(autouse=True)
def _warehouse_file(tmp_path, settings):  # type: ignore[no-untyped-def]
    """Each test gets its own warehouse file (the operational test DB is rolled back per test)."""
    settings.ANALYTICS_WAREHOUSE = str(tmp_path / "warehouse.duckdb")
    settings.ANALYTICS_REFRESH_SECONDS = 0
