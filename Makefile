# The two set-up commands are `make up` (emulator + stack deployed + outputs) and
# `make test` (every check CI runs). Everything they need is installed from here; the
# local environment's process logic is app/localenv, run through app/cmd/localenv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

CDKTF     := tools/node_modules/.bin/cdktf
# Built, then run: go run would add its own "exit status 1" to every failure.
LOCALENV  := go build -o .run/bin/localenv ./app/cmd/localenv && .run/bin/localenv
# tools/node_modules holds a Go package of an npm dependency; it is not ours to test.
UNIT_PKGS  = $(shell go list ./... | grep -v -E '/test(/|$$)|/node_modules/')

.PHONY: help up down diff smoke admin-password registry-stop emulator-start emulator-stop test check unit terratest up-check tools synth bench scan clean

help:
	@printf '%s\n' \
	  "make up    - start the local AWS emulator, deploy the whole stack to it with cdktf, run the registry on it, smoke-test it" \
	  "make down  - stop the registry, destroy the local stack and stop the emulator" \
	  "make diff  - plan the local stack against the emulator (no changes after make up)" \
	  "make test  - in three lanes at once: tree check (no compiled binaries, gofmt), go vet, unit tests (-race) | the terratest suites on the emulator | make up/diff/down (up-check); prints each step's time" \
	  "make smoke - run the smoke sequence again against the registry make up started" \
	  "make -s admin-password - print the admin password make up deployed" \
	  "make synth - synthesize cdktf.out/ with the cdktf CLI" \
	  "make bench - measure synth times and test-suite wall time" \
	  "make scan  - scan the prod synth with tfsec (HCL rendering); fails on any CRITICAL or HIGH finding" \
	  "(the registry listens on REGISTRY_ADDR, default 127.0.0.1:8080: make up REGISTRY_ADDR=127.0.0.1:8081)"

tools: $(CDKTF)

$(CDKTF): tools/package.json tools/package-lock.json
	$(LOCALENV) install-cdktf

synth: tools
	$(CDKTF) synth

# The main job: emulator, the whole stack deployed with the cdktf CLI (synth builds the
# runtime image; deploy pushes it to ECR), the runtime started as a local process with
# exactly the environment of the ECS task definition, then a smoke sequence.
up: tools
	@$(LOCALENV) up

down: tools
	@$(LOCALENV) down

diff: tools
	@$(LOCALENV) diff

smoke:
	@$(LOCALENV) smoke

admin-password:
	@$(LOCALENV) admin-password

registry-stop:
	@$(LOCALENV) registry-stop

emulator-start:
	@$(LOCALENV) emulator-start

emulator-stop:
	@$(LOCALENV) emulator-stop

# Three lanes at once (app/steps): check then unit, terratest, up-check; each step's log is
# printed whole when it ends and a table of the steps' times closes the run. The live
# lanes run niced: they mostly wait on the provider and the emulator, and the unit tests
# would otherwise starve behind a dozen emulators. tools comes first so that the lanes
# never install it twice at the same time.
test: tools
	@go build -o .run/bin/steps ./app/cmd/steps && .run/bin/steps -nice 10 check,unit terratest up-check

# Tracked compiled binaries, gofmt and ignored build outputs (app/treecheck), then go vet.
check:
	go run ./app/cmd/treecheck
	go vet ./...

unit:
	go test -race -count=1 $(UNIT_PKGS)

# Every live suite at once: each has its own emulator and spends most of its time in the
# provider's waits, so they overlap (go test's default is one per core).
TERRATEST_PARALLEL ?= 16
# The least-privilege proof (test/leastprivilege_test.go) writes its table; show it.
terratest: tools
	go test -count=1 -parallel $(TERRATEST_PARALLEL) -timeout 80m ./test/...
	@cat .run/least-privilege-proof.txt

# The main job as a user runs it, beside any running `make up` (its own run directory,
# synth output and port): up, a second plan that changes nothing, down.
up-check: tools
	@$(LOCALENV) up-check

bench: tools
	bash test/bench/synth.sh

# tfsec on the prod synth, rendered as HCL; prints the findings per severity, fails on CRITICAL or HIGH.
scan:
	go run ./app/cmd/tfscan

clean:
	rm -rf cdktf.out .run tools/node_modules
