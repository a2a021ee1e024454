# The release build: the binaries as they are measured (`cargo bench -p integration-tests`)
# and installed. See README.md, "Building".
#
#   make release              every binary of the workspace, into $(RELEASE_DIR)
#   make release CRATES='-p svscan'
#   make release-dir          prints $(RELEASE_DIR)
#
# Statically linked against glibc (`+crt-static`) and not position-independent
# (`relocation-model=static`): an idle svscan then has 56 kB of private dirty memory instead
# of 128 kB (no dynamic loader, no libgcc_s, no relocated data pages), and about 1 MB resident
# instead of 1.9 MB. The cost is ASLR for the binary's own code and data (the stack, heap and
# mmap areas are still randomized). The flags go through RUSTFLAGS with an explicit
# `--target`, so that they reach only the target's artifacts, never build scripts or
# proc-macros (which cannot be static), and land in their own target directory.

CARGO ?= cargo
HOST := $(shell rustc -vV | sed -n 's/^host: //p')
RELEASE_RUSTFLAGS := -C target-feature=+crt-static -C relocation-model=static
RELEASE_DIR := target/$(HOST)/release
CRATES ?= --workspace

.PHONY: release release-dir

release:
	RUSTFLAGS='$(RELEASE_RUSTFLAGS)' $(CARGO) build --release --target $(HOST) $(CRATES)

release-dir:
	@echo $(RELEASE_DIR)
