# Each target does its own set-up (see scripts/tools.sh).
.PHONY: test demo build fixtures

## Run every test: lints, native unit tests, and the worker in workerd against local stand-ins.
test:
	bash scripts/test.sh

## Start the local stand-ins for Supabase and Stytch and the worker bound to them.
demo:
	bash scripts/demo.sh

## Build the worker into build/.
build:
	bash scripts/build.sh

## Regenerate tests/fixtures/tokens.json (new throwaway keys; commit the result).
fixtures:
	PATH="$$PWD/node_modules/.bin:$$PATH" node tests/fixtures/generate.mjs
