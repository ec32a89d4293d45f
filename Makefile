# The teaching microkernel: build, boot and test every stage.
# `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Stage folders are stages/NN-topic; stage N is stages/0N-* and its package
# is stageN-topic (e.g. stages/01-boot -> stage1-boot).
STAGE_DIRS := $(sort $(wildcard stages/[0-9][0-9]-*))
stage_number = $(patsubst 0%,%,$(firstword $(subst -, ,$(notdir $(1)))))
STAGES := $(foreach dir,$(STAGE_DIRS),$(call stage_number,$(dir)))
NEWEST := $(lastword $(STAGES))
stage_dir = $(filter stages/0$(1)-%,$(STAGE_DIRS))
stage_package = stage$(1)-$(patsubst stages/0$(1)-%,%,$(call stage_dir,$(1)))

STAGE ?= $(NEWEST)
MEMORY ?= 128M
# The kernel command line for run, stage-N and debug, e.g. CMDLINE="crash=panic".
CMDLINE ?=
# Only the boot tests whose names contain this, e.g. TEST=page_fault.
TEST ?=
# `make boot-tests STAGE=N` tests stage N only; without STAGE, every stage.
BOOT_TEST_STAGES := $(if $(filter command line environment,$(origin STAGE)),$(STAGE),$(STAGES))
CARGO ?= cargo
MDBOOK := .tools/bin/mdbook
MKISO := target/release/mkiso

QEMU_BASE := qemu-system-x86_64 -m $(MEMORY) -no-reboot
comma := ,

.PHONY: help run debug gdb images test check fmt-check clippy unit-tests boot-tests book book-check \
	book-output diffs bench bench-phases clean deps $(addprefix stage-,$(STAGES)) $(addprefix image-,$(STAGES))

help:
	@echo "Teaching microkernel: a capability-based x86_64 microkernel in $(words $(STAGES)) stage(s)."
	@echo
	@echo "Booting:"
	@echo "  make run              build and boot the newest stage (stage $(NEWEST)); make run STAGE=N for another"
	@echo "  make stage-N          build and boot stage N (N = $(STAGES))"
	@echo "  make stage-N CMDLINE=\"crash=page-fault\"   ... with a kernel command line (see common/src/crash.rs)"
	@echo "  make stage-N UEFI=1   ... with UEFI firmware (OVMF) instead of the BIOS: the same ISO"
	@echo "  make debug STAGE=N    boot stage N stopped at the first instruction, waiting for GDB on :1234"
	@echo "  make gdb STAGE=N      start GDB with stage N's symbols, attached to 'make debug'"
	@echo "  make images           build build/stage-N.iso for every stage"
	@echo
	@echo "While changing code (fast first):"
	@echo "  make unit-tests       host unit tests of every crate (cargo test --workspace), a few seconds"
	@echo "  make boot-tests STAGE=N   boot tests of stage N only; add TEST=name to run the tests matching name"
	@echo "  make boot-tests       boot tests of every stage"
	@echo "  make check            formatting (cargo fmt --check) and lints (clippy -D warnings)"
	@echo "  make test             everything CI checks: fmt, clippy, unit tests, boot tests, book;"
	@echo "                        every step runs even when an earlier one fails, and the failures are listed at the end"
	@echo
	@echo "Exercises (exercises/README.md):"
	@echo "  make grade STAGE=N   run chapter N's graded exercises and print a score (without STAGE: every chapter)"
	@echo "  make grade STAGE=N EXERCISE=id   ... one exercise"
	@echo "  make grade-check     (CI) every exercise test fails as shipped and passes with its solution"
	@echo
	@echo "Measuring and attacking the kernel:"
	@echo "  make bench            count the instructions of the kernel's paths (stage $(NEWEST) under -icount),"
	@echo "                        print the table and write it into the book (book/src/costs-table.md)"
	@echo "  make bench-phases     the null system call phase by phase (a kernel built with feature bench-phases)"
	@echo "  make fuzz SEED=S COUNT=N   boot stage 6 running the system-call fuzzer, then the kernel's audit"
	@echo "  make fuzz-coverage    coverage-guided fuzzing (libFuzzer) of the host twin's system calls;"
	@echo "                        FUZZ_TARGET=elf for ELF images, FUZZ_SECONDS=60 (fuzz/README.md)"
	@echo "  make mutants          mutation testing (cargo-mutants) of the abi, ELF, memory-map, object and"
	@echo "                        parser code; MUTANTS=\"elf parser\" for some (slow: not in make test)"
	@echo
	@echo "The book:"
	@echo "  make book             build the book into book/book (open book/book/index.html)"
	@echo "  make book-output      boot every stage and record what it prints, for the book (make book does it)"
	@echo "  make book-commands    run every command the book shows and check what it prints (ONLY=text: some)"
	@echo "  make diffs            regenerate the stage-to-stage diffs the book shows"
	@echo
	@echo "  make deps             install QEMU, GRUB tools and mdBook (the other targets do it when needed)"
	@echo "  make clean            remove build outputs"
	@echo
	@echo "Variables: STAGE=N (default $(NEWEST)), MEMORY=128M (guest memory for run/stage-N/debug),"
	@echo "  CMDLINE=\"...\" (kernel command line for run/stage-N/debug), UEFI=1 (boot run/stage-N/debug with"
	@echo "  UEFI firmware), TEST=name (boot tests to run)."
	@echo "A crash report names the faulting rip; the source line it is in:"
	@echo "  addr2line -f -i -C -e build/stage-N/kernel.elf <rip>"

deps:
	@tools/install-deps.sh qemu mdbook

# ---- building images -------------------------------------------------------

$(MKISO): $(wildcard tools/qemu-test/src/*.rs tools/qemu-test/src/*/*.rs)
	$(CARGO) build --release -q -p qemu-test --bin mkiso

# mkiso(N, command line, output): the one command that makes an ISO of
# stage N (mkiso writes its GRUB configuration).
mkiso = $(MKISO) --title "Stage $(1): $(patsubst stages/0$(1)-%,%,$(call stage_dir,$(1)))" \
	--kernel build/stage-$(1)/kernel.elf $(foreach m,$(wildcard build/stage-$(1)/modules/*),--module $(m)) \
	$(if $(2),--cmdline '$(2)') --output $(3)

# image-N: build/stage-N.iso, with the kernel also at build/stage-N/kernel.elf
# (for GDB and for the boot tests' command-line variants).
$(addprefix image-,$(STAGES)): image-%: $(MKISO)
	@tools/install-deps.sh qemu
	$(CARGO) build --release -q -p $(call stage_package,$*)
	@mkdir -p build/stage-$*/modules
	@cp target/release/$(call stage_package,$*) build/stage-$*/kernel.elf
	$(call mkiso,$*,,build/stage-$*.iso)

# The ISO that run, stage-N and debug boot: with CMDLINE, a variant made
# beside the kernel; build/stage-N.iso (what the tests boot) stays as it is.
boot_iso = $(if $(CMDLINE),build/stage-$(1)/cmdline.iso,build/stage-$(1).iso)
with_cmdline = $(if $(CMDLINE), with the kernel command line '$(CMDLINE)')

images: $(addprefix image-,$(STAGES))

# ANCHOR: uefi
# UEFI=1: run, stage-N and debug boot the same ISO with UEFI firmware
# (OVMF) instead of the BIOS. OVMF comes as two flash images: its code,
# read-only, and a store of settings it writes as it boots, of which each
# boot gets a fresh copy. Debian and Ubuntu's ovmf package puts them in
# /usr/share/OVMF/ (the 4 MiB build on Debian 12 and Ubuntu 22.04 and
# later; the boot tests search the same list, in tools/qemu-test/src/lib.rs);
# elsewhere, set OVMF_CODE and OVMF_VARS. (`?=` keeps the search for when a
# recipe runs: after install-deps.sh may have installed OVMF.)
UEFI ?=
OVMF_CODE ?= $(firstword $(wildcard /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_CODE.fd))
OVMF_VARS ?= $(subst OVMF_CODE,OVMF_VARS,$(OVMF_CODE))
OVMF_VARS_COPY := build/ovmf-vars.fd
# The firmware's QEMU options (none for the BIOS, QEMU's default), and the
# shell commands that check OVMF is there and copy its settings store.
firmware = $(if $(UEFI),-drive if=pflash$(comma)format=raw$(comma)unit=0$(comma)readonly=on$(comma)file=$(OVMF_CODE) \
	-drive if=pflash$(comma)format=raw$(comma)unit=1$(comma)file=$(OVMF_VARS_COPY))
prepare_firmware = $(if $(UEFI),if [ ! -f "$(OVMF_CODE)" ] || [ ! -f "$(OVMF_VARS)" ]; then \
	echo "UEFI=1: no OVMF in /usr/share/OVMF/: run tools/install-deps.sh qemu$(comma) or set OVMF_CODE and OVMF_VARS"; \
	exit 1; fi; cp "$(OVMF_VARS)" $(OVMF_VARS_COPY),:)
with_firmware = $(if $(UEFI), with UEFI firmware (OVMF))
# ANCHOR_END: uefi

# ANCHOR: modules
# modules-N: a stage's first user program (stages/0N-*/rinit, package
# stageN-rinit; for stage 6, the shell in the top-level rinit/, package
# rinit), built and put in build/stage-N/modules/ before image-N (whose mkiso
# passes each file there to GRUB as a module). Nothing to do for a stage
# without one. Stage 6 also takes every other program: each crate under
# programs/ (package named after its folder), put there under that name.
rinit_package = $(if $(wildcard $(call stage_dir,$(1))/rinit/Cargo.toml),stage$(1)-rinit,$(if $(filter 6,$(1)),rinit))
PROGRAMS := $(patsubst programs/%/Cargo.toml,%,$(wildcard programs/*/Cargo.toml))
stage_programs = $(if $(filter 6,$(1)),$(PROGRAMS))
.PHONY: $(addprefix modules-,$(STAGES))
$(addprefix modules-,$(STAGES)): modules-%:
	$(if $(call rinit_package,$*), \
		$(CARGO) build --release -q -p $(call rinit_package,$*) && mkdir -p build/stage-$*/modules && \
		cp target/release/$(call rinit_package,$*) build/stage-$*/modules/rinit, @:)
	$(if $(call stage_programs,$*), \
		$(CARGO) build --release -q $(addprefix -p ,$(call stage_programs,$*)) && mkdir -p build/stage-$*/modules \
		$(foreach program,$(call stage_programs,$*),&& cp target/release/$(program) build/stage-$*/modules/$(program)), @:)
$(addprefix image-,$(STAGES)): image-%: modules-%
# ANCHOR_END: modules

# ---- booting ---------------------------------------------------------------

# With a display: QEMU's window shows the VGA screen and the terminal shows
# the serial console. Without one: the serial console only, in this terminal.
# There is no exit device here, so the kernel halts at the end and leaves
# its output up for a person to read; its last line says how to quit.
$(addprefix stage-,$(STAGES)): stage-%: image-%
	$(if $(CMDLINE),$(call mkiso,$*,$(CMDLINE),build/stage-$*/cmdline.iso))
	@$(prepare_firmware)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "Booting stage $*$(with_cmdline)$(with_firmware) in a QEMU window (serial console below)."; \
		echo "Quit: close the window, or Ctrl-A, then X in this terminal."; \
		$(QEMU_BASE) $(firmware) -cdrom $(call boot_iso,$*) -serial mon:stdio; \
	else \
		echo "Booting stage $*$(with_cmdline)$(with_firmware) without a display: serial console here. Quit with Ctrl-A, then X."; \
		$(QEMU_BASE) $(firmware) -cdrom $(call boot_iso,$*) -display none -serial mon:stdio; \
	fi

run: stage-$(STAGE)

debug: image-$(STAGE)
	$(if $(CMDLINE),$(call mkiso,$(STAGE),$(CMDLINE),build/stage-$(STAGE)/cmdline.iso))
	@$(prepare_firmware)
	@echo "Stage $(STAGE)$(with_cmdline)$(with_firmware) is waiting for GDB on localhost:1234. In another terminal run:"
	@echo "    make gdb STAGE=$(STAGE)"
	@echo "(or: gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue)"
	@echo "Quit QEMU with Ctrl-A, then X."
	$(QEMU_BASE) $(firmware) -cdrom $(call boot_iso,$(STAGE)) -display none -serial mon:stdio -s -S

gdb:
	gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue

# ---- testing ---------------------------------------------------------------

check: fmt-check clippy

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --features qemu-test/qemu -q -- -D warnings

unit-tests:
	$(CARGO) test --workspace -q

# The runner's own tests (keyboard and screen) boot stage 1: they run with it.
# A stage with UEFI boot tests (tools/qemu-test/tests/stageN_uefi.rs) runs them too.
boot-tests: $(addprefix image-,$(BOOT_TEST_STAGES))
	$(CARGO) test -q --no-fail-fast -p qemu-test --features qemu $(foreach n,$(BOOT_TEST_STAGES),--test stage$(n) \
		$(if $(wildcard tools/qemu-test/tests/stage$(n)_uefi.rs),--test stage$(n)-uefi)) \
		$(if $(filter 1,$(BOOT_TEST_STAGES)),--test harness) -- --show-output $(TEST)

book-check: book-output
	@tools/install-deps.sh mdbook
	tools/stage-diffs.sh --check
	tools/check-book.sh
	$(CARGO) run --release -q -p qemu-test --bin book-commands

# Every step runs even if an earlier one fails (so a broken format does not
# hide which test notices a change); the failed steps are listed at the end.
TEST_STEPS := fmt-check clippy unit-tests boot-tests book-check
test:
	@failed=""; \
	for step in $(TEST_STEPS); do \
		echo "==> make $$step"; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all checks passed"

# The coverage-guided fuzzers (fuzz/, on libFuzzer: see fuzz/README.md):
# FUZZ_TARGET is calls (system calls on stage 6's host twin), elf (ELF
# images) or calls-random (the random fuzzer in the same harness, to
# compare with); the corpus grows in build/fuzz/FUZZ_TARGET/.
FUZZ_TARGET ?= calls
FUZZ_SECONDS ?= 60
.PHONY: fuzz-coverage
fuzz-coverage:
	fuzz/run.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)

# Mutation testing (tools/mutants.sh): cargo-mutants breaks the code one
# small change at a time and counts the changes no test notices. Slow (the
# `objects` group takes hours on two cores), so not part of `make test`;
# MUTANTS picks the groups: `make mutants MUTANTS="elf memory-map"`.
MUTANTS ?= abi elf memory-map parser objects
.PHONY: mutants
mutants:
	@tools/install-deps.sh mutants
	tools/mutants.sh $(MUTANTS)

# The system-call fuzzer (programs/fuzz): boots stage 6 headless with
# fuzz=SEED,COUNT, with the exit device, and shows the end of the
# transcript. It fails on a kernel panic or exception report, a failed
# audit, or a timeout. `-icount shift=0` ties the timer to instructions
# executed, so the same SEED and COUNT replay the same run exactly (the
# same preemptions, the same transcript): `make fuzz SEED=7 COUNT=1000000`.
SEED ?= 1
COUNT ?= 100000
FUZZ_TIMEOUT ?= 1800
.PHONY: fuzz
fuzz: image-6
	$(call mkiso,6,fuzz=$(SEED)$(comma)$(COUNT),build/stage-6/fuzz.iso)
	@echo "Fuzzing stage 6: seed $(SEED), $(COUNT) calls (timeout $(FUZZ_TIMEOUT) s)"
	@set -o pipefail; timeout $(FUZZ_TIMEOUT) $(QEMU_BASE) -cdrom build/stage-6/fuzz.iso -display none \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -icount shift=0 < /dev/null > build/stage-6/fuzz.log 2>&1; \
		status=$$?; tail -n 25 build/stage-6/fuzz.log; \
		if grep -qE "KERNEL PANIC|EXCEPTION:|AUDIT FAILED|FUZZ FAILED" build/stage-6/fuzz.log; then \
			echo "make fuzz: FAILED (seed $(SEED), $(COUNT) calls): see build/stage-6/fuzz.log"; exit 1; fi; \
		if [ $$status -ne 33 ]; then echo "make fuzz: FAILED (exit status $$status; 124 is the timeout)"; exit 1; fi; \
		echo "make fuzz: passed (seed $(SEED), $(COUNT) calls)"

# ---- the book --------------------------------------------------------------

diffs:
	tools/stage-diffs.sh

# What the book shows of each stage's output, recorded from real boots into
# book/src/output/ (not committed: made again from the current code).
book-output: images
	$(CARGO) run --release -q -p qemu-test --bin book-output -- book/src/output

# Every command the book shows, in ```console blocks after `$ `, run as a
# reader would run it (headless, no input but the lines the book types) and
# checked against what the book says it prints: tools/qemu-test/src/bin/
# book-commands.rs. ONLY=text runs those whose place or command has text.
# book-check (so make test) runs them all, after the images are built.
.PHONY: book-commands
book-commands:
	$(CARGO) run --release -q -p qemu-test --bin book-commands -- $(if $(ONLY),--only '$(ONLY)')

book: book-output
	@tools/install-deps.sh mdbook
	$(MDBOOK) build book
	@echo "The book is in book/book/index.html"

# ---- what it costs ---------------------------------------------------------

# Boots the newest stage with `bench` on its command line under
# `-icount shift=0`: each figure is an instruction count. BENCH_REPS
# repetitions per figure (1000); `make test` runs a short version as a boot
# test with budgets (tools/qemu-test/src/bench.rs).
BENCH_REPS ?= 1000
bench: image-$(NEWEST)
	$(CARGO) run --release -q -p qemu-test --bin bench -- --reps $(BENCH_REPS) --output book/src/costs-table.md

# The null system call broken down into phases (stages/06-channels/src/phases.rs):
# a kernel built with the feature bench-phases, in its own target folder,
# booted with the bench under icount; prints the bench's lines and the phases.
bench-phases: image-$(NEWEST)
	$(CARGO) build --release -q -p $(call stage_package,$(NEWEST)) --features bench-phases --target-dir target/bench-phases
	$(MKISO) --title "Stage $(NEWEST), phases" --kernel target/bench-phases/release/$(call stage_package,$(NEWEST)) \
		$(foreach m,$(wildcard build/stage-$(NEWEST)/modules/*),--module $(m)) \
		--cmdline 'bench=$(BENCH_REPS)' --output build/stage-$(NEWEST)/phases.iso
	timeout 600 $(QEMU_BASE) -icount shift=0 -cdrom build/stage-$(NEWEST)/phases.iso -display none -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null | grep -E '^(bench|phases):'; true

clean:
	$(CARGO) clean
	rm -rf build book/book book/src/output

# ---- graded exercises ------------------------------------------------------

# The chapters' graded exercises (exercises/README.md): `make grade STAGE=N`
# runs chapter N's exercise tests and prints a score; without STAGE, every
# chapter's; EXERCISE=id runs one. `make grade-check` (CI) checks that each
# test fails as shipped and passes with its solution (solutions/stage-N/).
GRADE := target/release/grade
GRADE_STAGES := $(if $(filter command line environment,$(origin STAGE)),$(STAGE),$(STAGES))
EXERCISE ?=
.PHONY: grade grade-check
grade grade-check:
	@$(CARGO) build --release -q -p qemu-test --bin grade
	@$(GRADE) $(if $(filter grade,$@),run,check) $(if $(EXERCISE),--only $(EXERCISE)) $(GRADE_STAGES)
