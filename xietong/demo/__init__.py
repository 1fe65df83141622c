"""The one deterministic demo-data generator (`xietong demo --seed N --size small|medium|large`).

Each module adds a step in `STEPS` (xietong/demo/steps.py); a step receives the shared
`DemoContext` (random generator seeded once, size, the companies and users made so far) and
adds realistic data through the modules' services.
"""
