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
	@echo "  make grade-check     (CI) every exercise test fails as shipped, passes with its solution, and"
	@echo "                       a chapter's solutions pass together; then the hand-out round trip"
	@echo "  make handout DIR=d   (teacher) write the tree to give the class: no solutions, no hidden tests"
	@echo "  make handin          (student) write handin.patch: your work since the hand-out"
	@echo "  make grade-handin FILE=f   (teacher) grade a hand-in with every test, hidden ones included"
	@echo
	@echo "Measuring and attacking the kernel:"
	@echo "  make bench            count the instructions of the kernel's paths (stage $(NEWEST) under -icount),"
	@echo "                        print the table and write it into the book (book/src/costs-table.md)"
	@echo "  make bench-boot       where a boot's time goes, and the fast test boot's median (also part of make bench)"
	@echo "  make bench-check      (maintainers, CI) the budgets, and that the book's table is current"
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
	@echo "  make diffs            generate the stage-to-stage diffs the book shows (make book does it)"
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
# Each stage's boots get their copy beside its kernel (two stages can boot at once).
ovmf_vars_copy = build/stage-$(1)/ovmf-vars.fd
# The firmware's QEMU options for stage N (none for the BIOS, QEMU's
# default), and the shell commands that check OVMF is there and copy its
# settings store.
firmware = $(if $(UEFI),-drive if=pflash$(comma)format=raw$(comma)unit=0$(comma)readonly=on$(comma)file=$(OVMF_CODE) \
	-drive if=pflash$(comma)format=raw$(comma)unit=1$(comma)file=$(call ovmf_vars_copy,$(1)))
prepare_firmware = $(if $(UEFI),if [ ! -f "$(OVMF_CODE)" ] || [ ! -f "$(OVMF_VARS)" ]; then \
	echo "UEFI=1: no OVMF in /usr/share/OVMF/: run tools/install-deps.sh qemu$(comma) or set OVMF_CODE and OVMF_VARS"; \
	exit 1; fi; mkdir -p build/stage-$(1); cp "$(OVMF_VARS)" $(call ovmf_vars_copy,$(1)),:)
with_firmware = $(if $(UEFI), with UEFI firmware (OVMF))
# ANCHOR_END: uefi

# ANCHOR: modules
# modules-N: a stage's user programs, built and put in build/stage-N/modules/
# before image-N (whose mkiso passes each file there to GRUB as a module).
# The rule, the same for every stage:
# - the top-level rinit/ (package rinit) and every crate under programs/
#   (package named after its folder) are the newest stage's: what the full
#   system runs;
# - an earlier stage with a first program of its own keeps it in its stage
#   folder, stages/0N-*/rinit/ (package stageN-rinit), so that the stage
#   stays a complete snapshot when the newest one moves on (stage 5's);
# - a stage with neither has no modules.
# The first program is put there as `rinit`, the others under their names,
# without their debug information (objcopy --strip-debug; the copies in
# target/release/ keep it for GDB): from stage 6 on the kernel copies each
# module other than rinit into pages it hands to rinit, and a program's
# debug sections are most of its file.
# When a stage 7 is added, stage 6 keeps a copy of today's rinit/ (and of
# the programs it starts) in stages/06-channels/ before rinit/ changes.
rinit_package = $(if $(wildcard $(call stage_dir,$(1))/rinit/Cargo.toml),stage$(1)-rinit,$(if $(filter $(NEWEST),$(1)),rinit))
# Programs the boot tests alone use, not on the ISO, so that the ISO's
# twelve program slots keep room for a student's: put, stripped too, in
# build/stage-N/test-modules/, which a boot test loads by name
# (qemu_test::Boot::test_module). hostile-serial is a second program of
# programs/hostile; the others are packages of programs/ of their own.
TEST_PACKAGES := teardown umip
TEST_PROGRAMS := $(TEST_PACKAGES) hostile-serial
PROGRAMS := $(filter-out $(TEST_PACKAGES),$(patsubst programs/%/Cargo.toml,%,$(wildcard programs/*/Cargo.toml)))
stage_programs = $(if $(filter $(NEWEST),$(1)),$(PROGRAMS))
.PHONY: $(addprefix modules-,$(STAGES))
$(addprefix modules-,$(STAGES)): modules-%:
	$(if $(call rinit_package,$*), \
		$(CARGO) build --release -q -p $(call rinit_package,$*) && mkdir -p build/stage-$*/modules && \
		cp target/release/$(call rinit_package,$*) build/stage-$*/modules/rinit, @:)
	$(if $(call stage_programs,$*), \
		$(CARGO) build --release -q $(addprefix -p ,$(call stage_programs,$*) $(TEST_PACKAGES)) && mkdir -p build/stage-$*/modules \
		$(foreach program,$(call stage_programs,$*),&& objcopy --strip-debug target/release/$(program) build/stage-$*/modules/$(program)) \
		&& find build/stage-$*/modules -type f $(foreach keep,rinit $(call stage_programs,$*),! -name $(keep)) -delete \
		&& mkdir -p build/stage-$*/test-modules \
		$(foreach program,$(TEST_PROGRAMS),&& objcopy --strip-debug target/release/$(program) build/stage-$*/test-modules/$(program)), @:)
$(addprefix image-,$(STAGES)): image-%: modules-%
# ANCHOR_END: modules

# ---- booting ---------------------------------------------------------------

# With a display: QEMU's window shows the VGA screen and the terminal shows
# the serial console. Without one: the serial console only, in this terminal.
# Stages 1 to 5 have no exit device here, so the kernel halts at the end and
# leaves its output up (the VGA window too) for a person to read; its last
# line says how to quit. Stage 6 has one, as in the tests: its shell's
# `shutdown` ends QEMU. QEMU then exits with the kernel's status (33 for
# success, 35 for a failure it reports, shown as such), which is no error
# of make's.
SHUTDOWN_STAGES := 6
exit_device = $(if $(filter $(SHUTDOWN_STAGES),$(1)),-device isa-debug-exit$(comma)iobase=0xf4$(comma)iosize=0x04)
# The shell commands that read QEMU's status: the kernel's success is make's.
kernel_status = status=$$?; case $$status in 0|33) ;; \
	35) echo "(the kernel stopped with a failure: QEMU exit status 35)"; exit 1;; *) exit $$status;; esac
# boot-N boots what image-N built, without building (the boot test of
# make run's exit, in stages/06-channels/tests/boot.rs, runs it).
.PHONY: $(addprefix boot-,$(STAGES))
$(addprefix stage-,$(STAGES)): stage-%: image-%
	$(if $(CMDLINE),$(call mkiso,$*,$(CMDLINE),build/stage-$*/cmdline.iso))
	@$(MAKE) --no-print-directory boot-$*
$(addprefix boot-,$(STAGES)): boot-%:
	@$(call prepare_firmware,$*)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "Booting stage $*$(with_cmdline)$(with_firmware) in a QEMU window (serial console below)."; \
		echo "Quit: close the window, or Ctrl-A, then X in this terminal."; \
		$(QEMU_BASE) $(call firmware,$*) $(call exit_device,$*) -cdrom $(call boot_iso,$*) -serial mon:stdio; \
	else \
		echo "Booting stage $*$(with_cmdline)$(with_firmware) without a display: serial console here. Quit with Ctrl-A, then X."; \
		$(QEMU_BASE) $(call firmware,$*) $(call exit_device,$*) -cdrom $(call boot_iso,$*) -display none -serial mon:stdio; \
	fi; $(kernel_status)

run: stage-$(STAGE)

debug: image-$(STAGE)
	$(if $(CMDLINE),$(call mkiso,$(STAGE),$(CMDLINE),build/stage-$(STAGE)/cmdline.iso))
	@$(call prepare_firmware,$(STAGE))
	@echo "Stage $(STAGE)$(with_cmdline)$(with_firmware) is waiting for GDB on localhost:1234. In another terminal run:"
	@echo "    make gdb STAGE=$(STAGE)"
	@echo "(or: gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue)"
	@echo "Quit QEMU with Ctrl-A, then X."
	$(QEMU_BASE) $(call firmware,$(STAGE)) -cdrom $(call boot_iso,$(STAGE)) -display none -serial mon:stdio -s -S

gdb:
	gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue

# ---- testing ---------------------------------------------------------------

check: fmt-check clippy

fmt-check:
	$(CARGO) fmt --all -- --check

# With the feature exercises (which turns on qemu too): the boot tests and
# the exercise tests, as grade-check lints them, which then has nothing to do.
clippy:
	$(CARGO) clippy --workspace --all-targets --features qemu-test/exercises -q -- -D warnings

unit-tests:
	$(CARGO) test --workspace -q

# The runner's own tests (keyboard and screen) boot stage 1: they run with it;
# the test that GRUB and QEMU's loader hand over the same information boots
# stage 6.
# A stage with UEFI boot tests (tools/qemu-test/tests/stageN_uefi.rs) runs them
# too: beside the others, since each of their boots (OVMF, then GRUB) takes
# seconds that the fast boots do not; their report follows the others'.
BIOS_BOOT_TESTS = $(foreach n,$(BOOT_TEST_STAGES),--test stage$(n)) \
	$(if $(filter 1,$(BOOT_TEST_STAGES)),--test harness) $(if $(filter 6,$(BOOT_TEST_STAGES)),--test loaders)
UEFI_BOOT_TESTS = $(foreach n,$(BOOT_TEST_STAGES),$(if $(wildcard tools/qemu-test/tests/stage$(n)_uefi.rs),--test stage$(n)-uefi))
BOOT_TEST_RUN = $(CARGO) test -q --no-fail-fast -p qemu-test --features qemu
# (make boot-tests STAGE=N: a log of its own, so that two stages can be tested at once.)
UEFI_LOG := build/uefi-boot-tests$(if $(filter command line environment,$(origin STAGE)),-stage-$(STAGE)).log
boot-tests: $(addprefix image-,$(BOOT_TEST_STAGES))
	$(BOOT_TEST_RUN) --no-run $(BIOS_BOOT_TESTS) $(UEFI_BOOT_TESTS)
	@$(if $(UEFI_BOOT_TESTS),$(BOOT_TEST_RUN) $(UEFI_BOOT_TESTS) -- --show-output $(TEST) > $(UEFI_LOG) 2>&1 &) \
	uefi=$$!; $(BOOT_TEST_RUN) $(BIOS_BOOT_TESTS) -- --show-output $(TEST); status=$$?; \
	$(if $(UEFI_BOOT_TESTS),wait $$uefi || status=1; echo "==> the UEFI boot tests:"; cat $(UEFI_LOG);) \
	exit $$status

# The book check: no stage keeps a byte-identical copy of its predecessor's
# file (tools/stage-diffs.sh --check), then check-book.sh, which generates
# the stage diffs, checks every include and builds the book.
book-check: book-output
	@tools/install-deps.sh mdbook
	tools/stage-diffs.sh --check
	tools/check-book.sh
	$(CARGO) run --release -q -p qemu-test --bin book-commands

# Every step runs even if an earlier one fails (so a broken format does not
# hide which test notices a change); the failed steps are listed at the end,
# after the time each step took, so that the next slow step shows. The
# tools that only the boot tests and the book need (QEMU, GRUB and OVMF
# through apt-get, mdBook into .tools/) are installed meanwhile, in the
# background, where that needs no password (as root, or with sudo -n):
# boot-tests waits for them. Should that fail, the steps install them
# again themselves, and say why if they cannot.
# The steps of TEST_EARLY start at once too, beside the others (binaries:
# the release builds, in target/release, while clippy and the unit tests
# build and run in target/debug: neither waits for the other's lock, and
# together they keep both cores busy where each alone leaves one idle part
# of the time); each one's output is shown, and its time counted from the
# start, at its place in the list.
TEST_STEPS := fmt-check clippy unit-tests binaries boot-tests book-check
TEST_EARLY := binaries
DEPS_LOG := build/install-deps.log
test:
	@mkdir -p build; \
	{ if [ "$$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then tools/install-deps.sh qemu; fi && \
		tools/install-deps.sh mdbook; } > $(DEPS_LOG) 2>&1 </dev/null & deps=$$!; \
	failed=""; times=""; started=$$(date +%s); \
	for step in $(TEST_EARLY); do \
		rm -f build/test-$$step.end build/test-$$step.status; \
		{ $(MAKE) --no-print-directory $$step; echo $$? > build/test-$$step.status; date +%s > build/test-$$step.end; } \
			> build/test-$$step.log 2>&1 </dev/null & \
	done; \
	for step in $(TEST_STEPS); do \
		echo "==> make $$step"; step_started=$$(date +%s); \
		if [ $$step = boot-tests ] && ! wait $$deps; then \
			cat $(DEPS_LOG); echo "(installing the tools in the background failed: the steps try again)"; \
		fi; \
		if [[ " $(TEST_EARLY) " == *" $$step "* ]]; then \
			while [ ! -f build/test-$$step.end ]; do sleep 1; done; \
			cat build/test-$$step.log; [ "$$(cat build/test-$$step.status)" = 0 ] || failed="$$failed $$step"; \
			times="$$times$$(printf '  %-12s %4d s (from the start, beside the steps before)' $$step \
				$$(( $$(cat build/test-$$step.end) - started )))\n"; \
			rm -f build/test-$$step.end build/test-$$step.status; \
			continue; \
		fi; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
		times="$$times$$(printf '  %-12s %4d s' $$step $$(( $$(date +%s) - step_started )))\n"; \
	done; \
	printf "make test: time of each step\n$$times  %-12s %4d s\n" total $$(( $$(date +%s) - started )); \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all checks passed"

# binaries: every kernel, user program and host tool that the images, the
# book and the graders use, in one cargo run, so that cargo builds them side
# by side on every core (each image-N's own cargo run then has nothing left
# to do).
KERNEL_PACKAGES := $(foreach n,$(STAGES),$(call stage_package,$(n)) $(call rinit_package,$(n))) $(PROGRAMS) $(TEST_PACKAGES)
.PHONY: binaries
binaries:
	$(CARGO) build --release -q -p qemu-test $(addprefix -p ,$(sort $(KERNEL_PACKAGES)))
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
# MUTANTS picks the groups: `make mutants MUTANTS="elf memory-map"`; one
# file of stage 6's objects/ in minutes, a lower bound then the full suite
# on what it left: `make mutants MUTANTS="objects-quick/audit objects-settle/audit"`.
MUTANTS ?= abi elf memory-map parser objects
.PHONY: mutants
mutants:
	@tools/install-deps.sh mutants
	tools/mutants.sh $(MUTANTS)

# The system-call fuzzer (programs/fuzz): boots stage 6 headless with
# fuzz=SEED,COUNT, with the exit device, and shows the end of the
# transcript. It fails on a kernel panic or exception report or a failed
# audit (looked for in what the kernel alone writes, its debug console
# channel on port 0xe9, in fuzz-kernel.log: a task cannot forge them), on
# the fuzzer's own FUZZ FAILED, or a timeout. `-icount shift=0` ties the timer to instructions
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
		-serial stdio -debugcon file:build/stage-6/fuzz-kernel.log -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-icount shift=0 < /dev/null > build/stage-6/fuzz.log 2>&1; \
		status=$$?; tail -n 25 build/stage-6/fuzz.log; \
		if ! grep -q "Stage 6" build/stage-6/fuzz-kernel.log; then \
			echo "make fuzz: FAILED: the kernel's own channel (build/stage-6/fuzz-kernel.log) is empty"; exit 1; fi; \
		if grep -qE "KERNEL PANIC|EXCEPTION:|AUDIT FAILED" build/stage-6/fuzz-kernel.log || grep -q "FUZZ FAILED" build/stage-6/fuzz.log; then \
			echo "make fuzz: FAILED (seed $(SEED), $(COUNT) calls): see build/stage-6/fuzz.log"; exit 1; fi; \
		if [ $$status -ne 33 ]; then echo "make fuzz: FAILED (exit status $$status; 124 is the timeout)"; exit 1; fi; \
		echo "make fuzz: passed (seed $(SEED), $(COUNT) calls)"

# ---- the book --------------------------------------------------------------

# The stage-to-stage diffs the chapters show, generated into book/src/diffs/
# (not committed: made again from the current code, like book/src/output/).
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

book: book-output diffs
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
	@$(MAKE) --no-print-directory bench-boot

# Where a boot's time goes, and the fast boot of the tests (qboot and QEMU's
# own loader) to the prompt: BOOT_RUNS wall-clock runs of each way (median),
# and the instructions under -icount (tools/qemu-test/src/bin/bench-boot.rs);
# written into the book (book/src/boot-table.md).
BOOT_RUNS ?= 7
.PHONY: bench-boot
bench-boot: image-$(NEWEST)
	$(CARGO) run --release -q -p qemu-test --bin bench-boot -- --runs $(BOOT_RUNS) --output book/src/boot-table.md

# The maintainers' check that the book's table is current: the budget
# test with BENCH_TABLE_CHECK set (CI sets it for all of make test, in
# .ci/run). Without it, make test checks the budgets only, so a student's
# changed kernel does not fail for costing a few instructions more than the
# book shows.
.PHONY: bench-check
bench-check:
	BENCH_TABLE_CHECK=1 $(MAKE) --no-print-directory boot-tests STAGE=$(NEWEST) TEST=bench_figures_stay_within_their_budgets

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
	rm -rf build book/book book/src/output book/src/diffs

# ---- graded exercises ------------------------------------------------------

# The chapters' graded exercises (exercises/README.md): `make grade STAGE=N`
# runs chapter N's exercise tests and prints a score; without STAGE, every
# chapter's and a total; EXERCISE=id runs one. It fails when any exercise
# fails, and writes build/grade/results.json (Gradescope's format; RESULTS=
# puts it elsewhere). `make grade-check` (CI) checks that each test fails as
# shipped, passes with its solution (solutions/stage-N/), and that a
# chapter's solutions pass all its tests together, then the hand-out round
# trip. For a class: `make handout DIR=...` writes the tree to hand out (no
# solutions, no hidden tests); `make handin` there writes handin.patch;
# `make grade-handin FILE=...` here grades it with every test.
GRADE := target/release/grade
GRADE_STAGES := $(if $(filter command line environment,$(origin STAGE)),$(STAGE))
EXERCISE ?=
RESULTS ?=
.PHONY: grade grade-check handout handin grade-handin grade-binary
# Always through cargo, which rebuilds the grader only when it changed.
grade-binary:
	@$(CARGO) build --release -q -p qemu-test --bin grade
grade grade-check: grade-binary
	@$(GRADE) $(if $(filter grade,$@),run,check) $(if $(EXERCISE),--only $(EXERCISE)) \
		$(if $(and $(RESULTS),$(filter grade,$@)),--results $(RESULTS)) $(GRADE_STAGES)
handout:
	@if [ -z "$(DIR)" ]; then echo "make handout DIR=path: the folder to write the hand-out to"; exit 2; fi
	@tools/handout.sh "$(DIR)"
handin:
	@tools/handin.sh $(if $(FILE),"$(FILE)")
grade-handin: grade-binary
	@if [ -z "$(FILE)" ]; then echo "make grade-handin FILE=path: the hand-in (make handin wrote it)"; exit 2; fi
	@$(GRADE) handin "$(FILE)" $(if $(RESULTS),--results $(RESULTS)) $(GRADE_STAGES)
