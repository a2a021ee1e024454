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

# ---------------------------------------------------------------------------------- install
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [S6_NAMES=1] [SUPERVISE_PATH=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]
#   make check-man            mandoc -T lint on every page
#
# Every program goes to $(BINDIR), daemons included: s6 installs all of its programs in its
# bindir, C s6-svscan (built with absolute paths, as Debian's) starts $(bindir)/s6-supervise,
# and s6-overlay and s6-linux-init scripts look for them there. Man pages: the daemons in
# section 8, the clients in section 1 (see README.md, "Install").
#
# S6_NAMES=1 also installs each program as its s6 name (s6-svscan, ..., s6-svwait): a relative
# symbolic link to ours in $(BINDIR), and one from s6-NAME.N to NAME.N among the man pages.
# A link keeps one binary per program (static, about 1 MB each), shows what it is (ls -l),
# and our programs take their name in messages from argv[0], so `s6-svc: fatal: ...` reads as
# C's. An s6 name that exists and is not such a link (C s6 installed there) is never replaced:
# install stops with an error.
#
# uninstall needs no S6_NAMES and keeps no manifest: it removes our programs and pages by
# name, and each s6 name only if it is our link (so never a C s6 file). With DESTDIR (a staging
# directory) it also removes the directories left empty, up to DESTDIR; without (a live
# system) it leaves directories, which may hold or have held other packages' files.
#
# SUPERVISE_PATH fixes at build time the program svscan starts when --supervise is not given
# (default: s6-supervise looked up in PATH), as s6's --enable-absolute-paths does, e.g.
# SUPERVISE_PATH=/usr/bin/supervise: svscan then runs our supervise whatever PATH holds,
# without the s6 names and beside a C s6. It is a path on the running system (no DESTDIR).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
S6_NAMES ?=
SUPERVISE_PATH ?=
INSTALL ?= install

# The installed programs; the test double (supervise-stub) is not one of them.
PROGRAMS := svscan svscanctl supervise svc svstat svok svwait
MAN8 := svscan supervise
MAN1 := svscanctl svc svstat svok svwait
BUILT := $(addprefix $(RELEASE_DIR)/,$(PROGRAMS))
SOURCES := Cargo.toml Cargo.lock Makefile $(wildcard $(addsuffix /Cargo.toml,common $(PROGRAMS)) \
	$(addsuffix /src/*.rs,common $(PROGRAMS)) $(addsuffix /src/*/*.rs,common $(PROGRAMS)))
SUPERVISE_STAMP := target/supervise-path

ifneq ($(SUPERVISE_PATH),)
export SVSCAN_DEFAULT_SUPERVISE := $(SUPERVISE_PATH)
endif

.PHONY: install uninstall check-man FORCE

# The release binaries, rebuilt when a source changed (or SUPERVISE_PATH did): so that
# `make && sudo make install` needs no cargo in root's PATH.
$(BUILT) &: $(SOURCES) $(SUPERVISE_STAMP)
	$(MAKE) release CRATES='$(addprefix -p ,$(PROGRAMS))'
	@touch $(BUILT)

# Rewritten only when the value changes, so that it dates the last change; made for the
# first time without a value, it dates from 1970, as every build before it was without one
# (so that `make && sudo make install` does not rebuild for the stamp's sake).
$(SUPERVISE_STAMP): FORCE
	@mkdir -p $(@D)
	@if ! [ -f $@ ]; then \
	  printf '%s\n' '$(SUPERVISE_PATH)' >$@; [ -n '$(SUPERVISE_PATH)' ] || touch -d @0 $@; \
	elif [ "$$(cat $@)" != '$(SUPERVISE_PATH)' ]; then \
	  printf '%s\n' '$(SUPERVISE_PATH)' >$@; \
	fi

install: $(BUILT)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man8'
	$(INSTALL) -m 755 $(BUILT) '$(DESTDIR)$(BINDIR)'
	$(INSTALL) -m 644 $(addprefix man/,$(addsuffix .8,$(MAN8))) '$(DESTDIR)$(MANDIR)/man8'
	$(INSTALL) -m 644 $(addprefix man/,$(addsuffix .1,$(MAN1))) '$(DESTDIR)$(MANDIR)/man1'
ifeq ($(S6_NAMES),1)
	@set -e; names() { \
	  for p in $(PROGRAMS); do echo $$p '$(DESTDIR)$(BINDIR)'/s6-$$p; done; \
	  for p in $(MAN8); do echo $$p.8 '$(DESTDIR)$(MANDIR)'/man8/s6-$$p.8; done; \
	  for p in $(MAN1); do echo $$p.1 '$(DESTDIR)$(MANDIR)'/man1/s6-$$p.1; done; \
	}; \
	names | while read -r ours name; do \
	  if [ -e "$$name" ] || [ -L "$$name" ]; then \
	    [ "$$(readlink "$$name")" = "$$ours" ] || { echo "$$name exists and is not a link to $$ours (C s6?): nothing linked" >&2; exit 1; }; \
	  fi; \
	done; \
	names | while read -r ours name; do echo "ln -sf $$ours $$name"; ln -sf "$$ours" "$$name"; done
endif

uninstall:
	@set -e; unlink_ours() { \
	  if [ "$$(readlink "$$2" 2>/dev/null)" = "$$1" ]; then echo "rm -f $$2"; rm -f "$$2"; fi; \
	}; \
	for p in $(PROGRAMS); do unlink_ours $$p '$(DESTDIR)$(BINDIR)'/s6-$$p; done; \
	for p in $(MAN8); do unlink_ours $$p.8 '$(DESTDIR)$(MANDIR)'/man8/s6-$$p.8; done; \
	for p in $(MAN1); do unlink_ours $$p.1 '$(DESTDIR)$(MANDIR)'/man1/s6-$$p.1; done
	rm -f $(addprefix '$(DESTDIR)$(BINDIR)'/,$(PROGRAMS))
	rm -f $(addprefix '$(DESTDIR)$(MANDIR)'/man8/,$(addsuffix .8,$(MAN8)))
	rm -f $(addprefix '$(DESTDIR)$(MANDIR)'/man1/,$(addsuffix .1,$(MAN1)))
ifneq ($(DESTDIR),)
	@dest='$(DESTDIR)'; dest=$${dest%/}; \
	for d in '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man8'; do \
	  while case $$d in "$$dest"/?*) true;; *) false;; esac && rmdir "$$d" 2>/dev/null; do \
	    echo "rmdir $$d"; d=$$(dirname "$$d"); \
	  done; \
	done
endif

check-man:
	man/lint.sh
