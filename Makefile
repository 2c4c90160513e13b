# The two set-up commands are `make up` (emulator + stack deployed + outputs) and
# `make test` (every check CI runs). Everything they need is installed from here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

RUN_DIR        := .run
CDKTF          := tools/node_modules/.bin/cdktf
EMULATOR_BIN   := $(RUN_DIR)/bin/emulator
EMULATOR_STATE := $(RUN_DIR)/emulator.json
ACME_ACCOUNT_ID ?= 838693051036
STACK          := registry
UNIT_PKGS       = $(shell go list ./... | grep -v -E '/test(/|$$)')

# Reads one field of the emulator's state file.
emulator_field = python3 -c 'import json,sys; print(json.load(open("$(EMULATOR_STATE)"))[sys.argv[1]])' $(1)
# Points Terraform at the machine's provider mirror when there is one (see app/tfmirror).
tf_env = tf_rc=$$(go run ./app/cmd/tfcliconfig -out $(RUN_DIR)/terraform.rc); \
	if [ -n "$$tf_rc" ]; then export TF_CLI_CONFIG_FILE="$$tf_rc"; fi
# Synthesizes with the cdktf CLI, then writes a missing provider lock file from the mirror:
# the CLI's own first lock asks the registry even when a mirror is configured.
synth_locked = $(CDKTF) synth; \
	go run ./app/cmd/tfcliconfig -out $(RUN_DIR)/terraform.rc -lock cdktf.out/stacks/$(STACK) >/dev/null

.PHONY: help up down registry-stop test check unit cli-synth terratest tools emulator-start emulator-stop synth bench clean

help:
	@echo "make up    - start the local AWS emulator, deploy the whole stack to it with cdktf, run the registry on it, smoke-test it"
	@echo "make down  - stop the registry, destroy the local stack and stop the emulator"
	@echo "make test  - gofmt, go vet, unit tests (-race) and the terratest suites on the emulator"
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
	@if [ -f $(EMULATOR_STATE) ] && kill -0 "$$($(call emulator_field,pid))" 2>/dev/null; then \
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
	@$(tf_env); \
	export ACME_ENV=local ACME_ACCOUNT_ID=$(ACME_ACCOUNT_ID) ACME_AWS_ENDPOINT="$$($(call emulator_field,endpoint))"; \
	$(synth_locked); \
	$(CDKTF) deploy $(STACK) --skip-synth --auto-approve --outputs-file $(RUN_DIR)/outputs.json --outputs-file-include-sensitive-outputs=false
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

registry-stop:
	@if [ -f $(REGISTRY_PID) ]; then kill "$$(cat $(REGISTRY_PID))" 2>/dev/null || true; rm -f $(REGISTRY_PID); echo "registry stopped"; fi

down: tools
	@$(MAKE) --no-print-directory registry-stop
	@if [ -f $(EMULATOR_STATE) ] && kill -0 "$$($(call emulator_field,pid))" 2>/dev/null; then \
		$(tf_env); \
		export ACME_ENV=local ACME_ACCOUNT_ID=$(ACME_ACCOUNT_ID) ACME_AWS_ENDPOINT="$$($(call emulator_field,endpoint))"; \
		$(synth_locked); \
		$(CDKTF) destroy $(STACK) --skip-synth --auto-approve; \
	fi
	@$(MAKE) --no-print-directory emulator-stop
	rm -rf $(RUN_DIR)/state $(RUN_DIR)/outputs.json

test: check unit cli-synth terratest

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

# The cdktf CLI path: installs the project-local CLI and synthesizes through it.
cli-synth: tools
	rm -rf $(RUN_DIR)/cli-synth && mkdir -p $(RUN_DIR)
	$(CDKTF) synth --output $(RUN_DIR)/cli-synth > $(RUN_DIR)/cli-synth.log 2>&1 || { cat $(RUN_DIR)/cli-synth.log; exit 1; }
	test -s $(RUN_DIR)/cli-synth/stacks/$(STACK)/cdk.tf.json
	@echo "cdktf synth wrote $(RUN_DIR)/cli-synth/stacks/$(STACK)/cdk.tf.json"

unit:
	go test -race -count=1 $(UNIT_PKGS)

terratest:
	go test -count=1 -timeout 80m ./test/...

bench: tools
	bash test/bench/synth.sh

clean:
	rm -rf cdktf.out $(RUN_DIR) tools/node_modules
