# syncd: build a static release and install it with its systemd units.
#
#   make build                         release build with a static Swift stdlib (runs on plain Debian)
#   sudo make install                  install, create the syncd user, reload systemd
#   sudo systemctl enable --now syncd.socket
#   make install DESTDIR=/path/to/root stage into another tree (no systemd calls)
#   sudo make uninstall                remove; keeps /etc/syncd, /var/lib/syncd and the syncd user

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
CONFDIR     ?= /etc/syncd
UNITDIR     ?= /etc/systemd/system
SYSUSERSDIR ?= /etc/sysusers.d
# Fixed: the example config names /usr/lib/syncd/examples/archive-dir.
EXAMPLESDIR ?= /usr/lib/syncd/examples

SWIFT    ?= swift
SCRATCH  ?= .build-release
# Where `install` takes the binaries from.
BUILD    ?= $(SCRATCH)/release
# syncctl is installed too once Package.swift has that product.
PRODUCTS ?= syncd $(shell grep -q 'executable.name: *"syncctl"' Package.swift && echo syncctl)

.PHONY: build install uninstall

build:
	for p in $(PRODUCTS); do \
	    $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) --product $$p || exit 1; \
	done

install:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(EXAMPLESDIR)
	for p in $(PRODUCTS); do install -m 0755 $(BUILD)/$$p $(DESTDIR)$(BINDIR)/$$p || exit 1; done
	sed -e 's|/usr/local/bin/syncd|$(BINDIR)/syncd|' -e 's|/etc/syncd/|$(CONFDIR)/|' \
	    packaging/syncd.service > $(DESTDIR)$(UNITDIR)/syncd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/syncd.service
	install -m 0644 packaging/syncd.socket $(DESTDIR)$(UNITDIR)/syncd.socket
	install -m 0644 packaging/sysusers.d/syncd.conf $(DESTDIR)$(SYSUSERSDIR)/syncd.conf
	test -e $(DESTDIR)$(CONFDIR)/syncd.toml || install -m 0644 packaging/syncd.toml $(DESTDIR)$(CONFDIR)/syncd.toml
	cp -R packaging/examples/. $(DESTDIR)$(EXAMPLESDIR)/
ifeq ($(DESTDIR),)
	systemd-sysusers $(SYSUSERSDIR)/syncd.conf
	systemctl daemon-reload
	@echo "installed; start with: systemctl enable --now syncd.socket"
endif

uninstall:
ifeq ($(DESTDIR),)
	-systemctl disable --now syncd.socket syncd.service
endif
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,syncd syncctl)
	rm -f $(DESTDIR)$(UNITDIR)/syncd.service $(DESTDIR)$(UNITDIR)/syncd.socket $(DESTDIR)$(SYSUSERSDIR)/syncd.conf
	rm -rf $(DESTDIR)$(EXAMPLESDIR)
	-rmdir $(DESTDIR)$(dir $(EXAMPLESDIR:/=))
ifeq ($(DESTDIR),)
	systemctl daemon-reload
endif
	@echo "kept: $(CONFDIR)/syncd.toml, /var/lib/syncd (state) and the syncd user"
