# make test: everything CI runs, on a fresh Debian machine.
.PHONY: test run deps build lint

deps:
	bash .ci/setup

test: deps lint
	go test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet ./...

run:
	go run ./cmd/moodgate

build:
	go build -o moodgate ./cmd/moodgate
