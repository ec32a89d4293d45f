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
CARGO ?= cargo
MDBOOK := .tools/bin/mdbook
MKISO := target/release/mkiso

QEMU_BASE := qemu-system-x86_64 -m $(MEMORY) -no-reboot

.PHONY: help run debug gdb images test check unit-tests boot-tests book book-check diffs clean deps \
	$(addprefix stage-,$(STAGES)) $(addprefix image-,$(STAGES))

help:
	@echo "Teaching microkernel: a capability-based x86_64 microkernel in $(words $(STAGES)) stage(s)."
	@echo
	@echo "  make run              build and boot the newest stage (stage $(NEWEST)); make run STAGE=N for another"
	@echo "  make stage-N          build and boot stage N (N = $(STAGES))"
	@echo "  make debug STAGE=N    boot stage N stopped at the first instruction, waiting for GDB on :1234"
	@echo "  make gdb STAGE=N      start GDB with stage N's symbols, attached to 'make debug'"
	@echo "  make images           build build/stage-N.iso for every stage"
	@echo "  make test             everything CI checks: fmt, clippy, unit tests, boot tests, book"
	@echo "  make book             build the book into book/book (open book/book/index.html)"
	@echo "  make diffs            regenerate the stage-to-stage diffs the book shows"
	@echo "  make deps             install QEMU, GRUB tools and mdBook (the other targets do it when needed)"
	@echo "  make clean            remove build outputs"
	@echo
	@echo "Variables: STAGE=N (default $(NEWEST)), MEMORY=128M (guest memory for run/stage-N/debug)."

deps:
	@tools/install-deps.sh qemu mdbook

# ---- building images -------------------------------------------------------

$(MKISO): $(wildcard tools/qemu-test/src/*.rs tools/qemu-test/src/*/*.rs)
	$(CARGO) build --release -q -p qemu-test --bin mkiso

# image-N: build/stage-N.iso, with the kernel also at build/stage-N/kernel.elf
# (for GDB and for the boot tests' command-line variants).
$(addprefix image-,$(STAGES)): image-%: $(MKISO)
	@tools/install-deps.sh qemu
	$(CARGO) build --release -q -p $(call stage_package,$*)
	@mkdir -p build/stage-$*/modules
	@cp target/release/$(call stage_package,$*) build/stage-$*/kernel.elf
	$(MKISO) --title "Stage $*: $(patsubst stages/0$*-%,%,$(call stage_dir,$*))" \
		--kernel build/stage-$*/kernel.elf $(foreach m,$(wildcard build/stage-$*/modules/*),--module $(m)) \
		--output build/stage-$*.iso

images: $(addprefix image-,$(STAGES))

# modules-N: a stage's first user program (stages/0N-*/rinit, package
# stageN-rinit), built and put in build/stage-N/modules/ before image-N
# (whose mkiso passes each file there to GRUB as a module). Nothing to do for
# a stage without one.
.PHONY: $(addprefix modules-,$(STAGES))
$(addprefix modules-,$(STAGES)): modules-%:
	$(if $(wildcard $(call stage_dir,$*)/rinit/Cargo.toml), \
		$(CARGO) build --release -q -p stage$*-rinit && mkdir -p build/stage-$*/modules && \
		cp target/release/stage$*-rinit build/stage-$*/modules/rinit, @:)
$(addprefix image-,$(STAGES)): image-%: modules-%

# ---- booting ---------------------------------------------------------------

# With a display: QEMU's window shows the VGA screen and the terminal shows
# the serial console. Without one: the serial console only, in this terminal.
# There is no exit device here, so the kernel halts at the end and leaves
# its output up for a person to read.
$(addprefix stage-,$(STAGES)): stage-%: image-%
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "Booting stage $* in a QEMU window (serial console below); close the window to quit."; \
		$(QEMU_BASE) -cdrom build/stage-$*.iso -serial stdio; \
	else \
		echo "Booting stage $* without a display: serial console here. Quit with Ctrl-A, then X."; \
		$(QEMU_BASE) -cdrom build/stage-$*.iso -display none -serial mon:stdio; \
	fi

run: stage-$(STAGE)

debug: image-$(STAGE)
	@echo "Stage $(STAGE) is waiting for GDB on localhost:1234. In another terminal run:"
	@echo "    make gdb STAGE=$(STAGE)"
	@echo "(or: gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue)"
	@echo "Quit QEMU with Ctrl-A, then X."
	$(QEMU_BASE) -cdrom build/stage-$(STAGE).iso -display none -serial mon:stdio -s -S

gdb:
	gdb build/stage-$(STAGE)/kernel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue

# ---- testing ---------------------------------------------------------------

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features qemu-test/qemu -q -- -D warnings

unit-tests:
	$(CARGO) test --workspace -q

boot-tests: images
	$(CARGO) test -q -p qemu-test --features qemu --test 'stage*' -- --show-output

book-check:
	@tools/install-deps.sh mdbook
	tools/stage-diffs.sh --check
	tools/check-book.sh

test: check unit-tests boot-tests book-check
	@echo "make test: all checks passed"

# ---- the book --------------------------------------------------------------

diffs:
	tools/stage-diffs.sh

book:
	@tools/install-deps.sh mdbook
	$(MDBOOK) build book
	@echo "The book is in book/book/index.html"

clean:
	$(CARGO) clean
	rm -rf build book/book
