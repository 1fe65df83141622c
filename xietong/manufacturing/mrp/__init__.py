"""Material requirements planning: a vectorised engine (`engine`), a plain reference
implementation for tests (`reference`) and CSV input/output (`csvio`)."""
