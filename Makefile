# The two set-up commands are `make up` (emulator + stack deployed + outputs) and
# `make test` (every check CI runs). Everything they need is installed from here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

RUN_DIR        := .run
CDKTF_OUT      := cdktf.out
CDKTF          := tools/node_modules/.bin/cdktf
EMULATOR_BIN   := $(RUN_DIR)/bin/emulator
EMULATOR_STATE := $(RUN_DIR)/emulator.json
ACME_ACCOUNT_ID ?= 838693051036
STACK          := registry
UNIT_PKGS       = $(shell go list ./... | grep -v -E '/test(/|$$)')

# Reads one field of the emulator's state file.
emulator_field = python3 -c 'import json,sys; print(json.load(open("$(EMULATOR_STATE)"))[sys.argv[1]])' $(1)
# True while this run directory's emulator is up.
emulator_running = [ -f $(EMULATOR_STATE) ] && kill -0 "$$($(call emulator_field,pid))" 2>/dev/null
# The app's configuration for the local stack on the running emulator.
local_stack_env = export ACME_ENV=local ACME_ACCOUNT_ID=$(ACME_ACCOUNT_ID) ACME_AWS_ENDPOINT="$$($(call emulator_field,endpoint))" \
	ACME_STATE_DIR=$(RUN_DIR)/state ACME_IMAGE_LAYOUT=$(RUN_DIR)/image
# Synthesizes with the cdktf CLI and points Terraform at the machine's provider mirror when
# there is one (see app/tfmirror), writing a missing provider lock file from it: the CLI's
# own first lock asks the registry even when a mirror is configured.
synth_for_terraform = $(local_stack_env); \
	$(CDKTF) synth --output $(CDKTF_OUT); \
	tf_rc=$$(go run ./app/cmd/tfcliconfig -out $(RUN_DIR)/terraform.rc -lock $(CDKTF_OUT)/stacks/$(STACK)); \
	if [ -n "$$tf_rc" ]; then export TF_CLI_CONFIG_FILE="$$tf_rc"; fi

.PHONY: help up down diff registry-stop test check unit up-check terratest tools emulator-start emulator-stop synth bench clean

help:
	@echo "make up    - start the local AWS emulator, deploy the whole stack to it with cdktf, run the registry on it, smoke-test it"
	@echo "make down  - stop the registry, destroy the local stack and stop the emulator"
	@echo "make diff  - plan the local stack against the emulator (no changes after make up)"
	@echo "make test  - gofmt, go vet, unit tests (-race), the terratest suites on the emulator, then make up/diff/down (up-check)"
	@echo "make synth - synthesize cdktf.out/ with the cdktf CLI"
	@echo "make bench - measure synth times and test-suite wall time"

tools: $(CDKTF)

$(CDKTF): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20 or newer (it ships npm)"; exit 1; }
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

synth: tools
	$(CDKTF) synth

emulator-start:
	@mkdir -p $(RUN_DIR)/bin
	@if $(emulator_running); then \
		echo "emulator already running at $$($(call emulator_field,endpoint))"; \
	else \
		rm -f $(EMULATOR_STATE); \
		go build -o $(EMULATOR_BIN) ./test/emulator/cmd/emulator; \
		nohup $(EMULATOR_BIN) -state-file $(EMULATOR_STATE) -account-id $(ACME_ACCOUNT_ID) \
			> $(RUN_DIR)/emulator.log 2>&1 & \
		for i in $$(seq 1 120); do [ -f $(EMULATOR_STATE) ] && break; sleep 0.5; done; \
		[ -f $(EMULATOR_STATE) ] || { echo "emulator did not start; see $(RUN_DIR)/emulator.log:"; tail -20 $(RUN_DIR)/emulator.log; exit 1; }; \
		echo "emulator running at $$($(call emulator_field,endpoint))"; \
	fi

emulator-stop:
	@if [ -f $(EMULATOR_STATE) ]; then \
		pid=$$($(call emulator_field,pid)); kill "$$pid" 2>/dev/null || true; \
		for i in $$(seq 1 40); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.25; done; \
		rm -f $(EMULATOR_STATE); echo "emulator stopped"; \
	fi

REGISTRY_ADDR ?= 127.0.0.1:8080
REGISTRY_PID  := $(RUN_DIR)/registry.pid
# The emulator's endpoint and fake credentials stand in for the task role locally.
emulator_aws_env = export AWS_ENDPOINT_URL="$$($(call emulator_field,endpoint))" AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
output_field = python3 -c 'import json,sys; print(json.load(open("$(RUN_DIR)/outputs.json"))["$(STACK)"][sys.argv[1]])' $(1)

# The main job: emulator, the whole stack deployed with the cdktf CLI (synth builds the
# runtime image; deploy pushes it to ECR), the runtime started as a local process with
# exactly the environment of the ECS task definition, then a smoke sequence.
up: tools emulator-start
	@$(synth_for_terraform); \
	$(CDKTF) deploy $(STACK) --skip-synth --output $(CDKTF_OUT) --auto-approve --outputs-file $(RUN_DIR)/outputs.json --outputs-file-include-sensitive-outputs=false
	@$(MAKE) --no-print-directory registry-stop
	go build -o $(RUN_DIR)/bin/registry ./runtime/cmd/registry
	go build -o $(RUN_DIR)/bin/localtask ./app/cmd/localtask
	go build -o $(RUN_DIR)/bin/smoke ./app/cmd/smoke
	@$(emulator_aws_env); \
	nohup $(RUN_DIR)/bin/localtask -task-definition "$$($(call output_field,task_definition_arn))" \
		-set REGISTRY_ADDR=$(REGISTRY_ADDR) -- $(RUN_DIR)/bin/registry > $(RUN_DIR)/registry.log 2>&1 & \
	echo $$! > $(REGISTRY_PID); \
	for i in $$(seq 1 60); do curl -fsS http://$(REGISTRY_ADDR)/health >/dev/null 2>&1 && break; \
		kill -0 "$$(cat $(REGISTRY_PID))" 2>/dev/null || { echo "the registry exited; see $(RUN_DIR)/registry.log:"; tail -20 $(RUN_DIR)/registry.log; exit 1; }; sleep 0.5; done
	@echo; echo "Smoke test against http://$(REGISTRY_ADDR):"
	@$(emulator_aws_env); $(RUN_DIR)/bin/smoke -url http://$(REGISTRY_ADDR) -user admin -password-secret "$$($(call output_field,admin_password_secret))"
	@echo; echo "Deployed to the emulator at $$($(call emulator_field,endpoint)):"
	@python3 -c 'import json; o=json.load(open("$(RUN_DIR)/outputs.json"))["$(STACK)"]; [print(f"  {k} = {v}") for k,v in sorted(o.items())]'
	@echo; echo "The registry is serving at http://$(REGISTRY_ADDR) (log: $(RUN_DIR)/registry.log)."; \
	echo "Log in as admin; the password is in Secrets Manager:"; \
	echo "  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url $$($(call emulator_field,endpoint)) --region us-east-1 \\"; \
	echo "    secretsmanager get-secret-value --secret-id $$($(call output_field,admin_password_secret)) --query SecretString --output text"; \
	echo "  curl -X PUT http://$(REGISTRY_ADDR)/authenticate -H 'Content-Type: application/json' \\"; \
	echo "    -d '{\"user\":{\"name\":\"admin\"},\"secret\":{\"password\":\"<password>\"}}'"

diff: tools
	@$(emulator_running) || { echo "the emulator is not running: run make up first"; exit 1; }
	@$(synth_for_terraform); \
	$(CDKTF) diff $(STACK) --skip-synth --output $(CDKTF_OUT)

registry-stop:
	@if [ -f $(REGISTRY_PID) ]; then kill "$$(cat $(REGISTRY_PID))" 2>/dev/null || true; rm -f $(REGISTRY_PID); echo "registry stopped"; fi

down: tools
	@$(MAKE) --no-print-directory registry-stop
	@if $(emulator_running); then \
		$(synth_for_terraform); \
		$(CDKTF) destroy $(STACK) --skip-synth --output $(CDKTF_OUT) --auto-approve; \
	fi
	@$(MAKE) --no-print-directory emulator-stop
	rm -rf $(RUN_DIR)/state $(RUN_DIR)/outputs.json

test: check unit terratest up-check

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

unit:
	go test -race -count=1 $(UNIT_PKGS)

terratest:
	go test -count=1 -timeout 80m ./test/...

# The main job as a user runs it, beside any running `make up` (its own run directory,
# synth output and port): deploy with the cdktf CLI, smoke test, a second plan that changes
# nothing, destroy.
UP_CHECK_DIR := $(RUN_DIR)/up-check
up-check: tools
	@port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	vars="RUN_DIR=$(UP_CHECK_DIR) CDKTF_OUT=$(UP_CHECK_DIR)/cdktf.out REGISTRY_ADDR=127.0.0.1:$$port"; \
	trap '$(MAKE) --no-print-directory down '"$$vars"' > $(UP_CHECK_DIR)-down.log 2>&1 || { echo "make down failed:"; tail -30 $(UP_CHECK_DIR)-down.log; exit 1; }; echo "make down: stack destroyed, emulator stopped"' EXIT; \
	rm -rf $(UP_CHECK_DIR) && mkdir -p $(UP_CHECK_DIR); \
	$(MAKE) --no-print-directory up $$vars > $(UP_CHECK_DIR)-up.log 2>&1 || { echo "make up failed:"; tail -60 $(UP_CHECK_DIR)-up.log; exit 1; }; \
	sed -n '/^Smoke test/,/^$$/p' $(UP_CHECK_DIR)-up.log; \
	$(MAKE) --no-print-directory diff $$vars > $(UP_CHECK_DIR)-diff.log 2>&1 || { echo "make diff failed:"; tail -40 $(UP_CHECK_DIR)-diff.log; exit 1; }; \
	grep -aq "No changes." $(UP_CHECK_DIR)-diff.log || { echo "a second plan after make up wants changes:"; grep -v "^\s*$$" $(UP_CHECK_DIR)-diff.log | tail -60; exit 1; }; \
	echo "make diff after make up: no changes"

bench: tools
	bash test/bench/synth.sh

clean:
	rm -rf cdktf.out $(RUN_DIR) tools/node_modules
