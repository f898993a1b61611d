# pam_django / nss_django: one Makefile for the whole tree.
#
#   make                 build everything into build/
#   make check           build and run every test (unit + integration)
#   make check SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make check-tsan      the concurrency tests under ThreadSanitizer (build-tsan/)
#   make fuzz            every libFuzzer harness in fuzz/ for FUZZ_SECONDS each (build-fuzz/)
#   make demo            the main job, shown end to end
#   make install DESTDIR=... PREFIX=/usr
#   make clean           remove every build directory (build*, fuzz output included)
#
# Missing Debian packages are installed with apt-get when running as root;
# otherwise the build stops and prints the exact command (tools/ensure-packages).

CXX      ?= g++
SANITIZE ?= 0
# Each kind of build has its own directory, so switching does not rebuild
# everything: build/, build-asan/ (SANITIZE=1), build-tsan/ (check-tsan),
# build-fuzz/ (fuzz). B= on the command line picks another.
ifeq ($(origin B),undefined)
B        := $(if $(filter 1,$(SANITIZE)),build-asan,build)
endif
PREFIX   ?= /usr
SYSCONFDIR ?= /etc
MULTIARCH ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIBDIR   ?= $(PREFIX)/lib/$(MULTIARCH)
PAMDIR   ?= $(LIBDIR)/security
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
# The daemon's private plugins (the MySQL/MariaDB engine).
PLUGINDIR ?= $(LIBDIR)/django-authd

# Debian packages: what the build needs, and what the tests need on top.
PKGS_BUILD := g++ make pkg-config dpkg-dev libssl-dev libargon2-dev libsodium-dev libcrypt-dev libinih-dev zlib1g-dev \
              libsqlite3-dev libpq-dev libmariadb-dev libpam0g-dev libcmocka-dev
PKGS_TEST  := python3-django python3-django-otp python3-pexpect python3-argon2 python3-bcrypt python3-psycopg2 python3-mysqldb python3-pytest python3-pip \
              pamtester libpam-wrapper postgresql pgbouncer mariadb-server sqlite3 util-linux \
              debhelper dh-nss lintian fakeroot man-db systemd-container \
              apache2 libapache2-mod-authnz-pam libapache2-mod-authz-unixgroup openssh-server \
              openssh-client sshpass vsftpd openssl procps sudo curl faketime

# The peers make bench measures against (bench/run).
PKGS_BENCH := libnss-pgsql2 wrk apache2 libapache2-mod-authnz-pam libapache2-mod-wsgi-py3 time util-linux

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC -fvisibility=hidden
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SANLD    := -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
# -Wno-tsan: GCC warns that ThreadSanitizer does not model standalone fences
# (the shared cache's seqlock uses them); the races it can see it still reports.
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=thread -Wno-tsan
SANLD    := -fsanitize=thread
else ifeq ($(SANITIZE),fuzz)
# libFuzzer instrumentation (clang only: make fuzz sets CXX=clang++-14).
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=all
SANLD    := -fsanitize=address,undefined
else
OPT      := -O2 -g
SANLD    :=
endif
CXXFLAGS_ALL := -std=c++20 $(OPT) $(WARN) $(HARDEN) -pthread -I. $(CXXFLAGS)
LDFLAGS_ALL  := -Wl,-z,relro -Wl,-z,now -Wl,--as-needed -pthread $(SANLD) $(LDFLAGS)

# Libraries, resolved by pkg-config once the packages are there.
PC        = $(shell pkg-config --libs $(1) 2>/dev/null)
LIBS_HASH  = $(call PC,libcrypto libargon2 libsodium libcrypt)
# The daemon's: the databases, and zlib for Django's common-passwords.txt.gz.
LIBS_DB    = $(call PC,libpq sqlite3 zlib)
LIBS_INI   = $(call PC,inih)
# Only the MySQL/MariaDB plugin links the connector; the daemon dlopens it.
LIBS_MYSQL = $(call PC,libmariadb)
LIBS_UNIT  = $(call PC,cmocka)

# --- sources -----------------------------------------------------------------
# common/ is what the PAM and NSS modules link ("client" code: wire protocol,
# socket client, shared cache reader, name rules; libc and libstdc++ only).
# "Core" is what the daemon and the CLI share and the modules never link:
# Django's password hashers (passwords/) and the configuration file reader
# (daemon/config.cc).
CLIENT_SRCS := $(sort $(wildcard common/*.cc))
CORE_SRCS   := $(sort $(wildcard passwords/*.cc)) daemon/config.cc
# daemon/db_mysql.cc goes into the plugin only (MYSQL_PLUGIN below).
DAEMON_SRCS := $(filter-out daemon/main.cc daemon/db_mysql.cc $(CORE_SRCS),$(sort $(wildcard daemon/*.cc)))
NSS_SRCS    := $(sort $(wildcard nss/*.cc))
PAM_SRCS    := $(sort $(wildcard pam/*.cc))
TOOL_SRCS   := $(sort $(wildcard tools/*.cc))
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.cc))
HELPER_SRCS := $(sort $(wildcard tests/helpers/*.cc))
BENCH_SRCS  := $(sort $(wildcard bench/*.cc))
FUZZ_SRCS   := $(sort $(filter-out fuzz/replay_main.cc,$(wildcard fuzz/fuzz_*.cc)))
FUZZ_NAMES  := $(patsubst fuzz/%.cc,%,$(FUZZ_SRCS))

obj = $(patsubst %.cc,$(B)/obj/%.o,$(1))

MYSQL_PLUGIN := $(B)/django-authd-mysql.so
ARTIFACTS := $(B)/pam_django.so $(B)/libnss_django.so.2 $(B)/django-authd $(B)/django-authctl $(MYSQL_PLUGIN)
UNIT_BINS := $(patsubst tests/unit/%.cc,$(B)/tests/%,$(UNIT_SRCS))
HELPER_BINS := $(patsubst tests/helpers/%.cc,$(B)/tests/%,$(HELPER_SRCS))
BENCH_BINS  := $(patsubst bench/%.cc,$(B)/bench/%,$(BENCH_SRCS))
REPLAY_BINS := $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_NAMES))

# Keep the intermediate objects of test, helper and bench programs (they come
# through pattern rules), so their dependency files decide when they are rebuilt.
.SECONDARY: $(call obj,$(UNIT_SRCS) $(HELPER_SRCS) $(BENCH_SRCS))

.PHONY: all check check-unit unit demo install uninstall clean deps test-deps bench fuzz fuzz-build check-tsan
.DEFAULT_GOAL := all

all: $(ARTIFACTS)

# --- dependencies --------------------------------------------------------------
$(B)/.deps-build: tools/ensure-packages
	@mkdir -p $(B) && tools/ensure-packages $(PKGS_BUILD) && touch $@
$(B)/.deps-test: tools/ensure-packages
	@mkdir -p $(B) && tools/ensure-packages $(PKGS_TEST) && touch $@
$(B)/.deps-bench: tools/ensure-packages
	@mkdir -p $(B) && tools/ensure-packages $(PKGS_BENCH) && touch $@
deps: $(B)/.deps-build
test-deps: $(B)/.deps-test

# Rebuild everything when the compiler flags change (CXXFLAGS=..., another CXX).
FLAGS_ID := $(CXX) $(CXXFLAGS_ALL) $(LDFLAGS_ALL)
$(shell mkdir -p $(B) && (echo '$(FLAGS_ID)' | cmp -s - $(B)/.flags || echo '$(FLAGS_ID)' > $(B)/.flags))

$(B)/obj/%.o: %.cc $(B)/.flags | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

$(B)/libdjclient.a: $(call obj,$(CLIENT_SRCS))
	@rm -f $@; ar rcs $@ $^
$(B)/libdjcore.a: $(call obj,$(CORE_SRCS))
	@rm -f $@; ar rcs $@ $^
$(B)/libdjdaemon.a: $(call obj,$(DAEMON_SRCS))
	@rm -f $@; ar rcs $@ $^
$(B)/libdjnss.a: $(call obj,$(NSS_SRCS))
	@rm -f $@; ar rcs $@ $^
$(B)/libdjpam.a: $(call obj,$(PAM_SRCS))
	@rm -f $@; ar rcs $@ $^

# --- artifacts -----------------------------------------------------------------
# The modules: client code only, and a version script that exports nothing but
# their entry points (tests/integration/test_module_abi.py checks both).
$(B)/libnss_django.so.2: $(call obj,$(NSS_SRCS)) $(B)/libdjclient.a nss/exports.map
	$(CXX) -shared -Wl,-soname,libnss_django.so.2 -Wl,--version-script=nss/exports.map \
	  -Wl,--no-undefined -o $@ $(call obj,$(NSS_SRCS)) $(B)/libdjclient.a $(LDFLAGS_ALL)

$(B)/pam_django.so: $(call obj,$(PAM_SRCS)) $(B)/libdjclient.a pam/exports.map
	$(CXX) -shared -Wl,--version-script=pam/exports.map -Wl,--no-undefined \
	  -o $@ $(call obj,$(PAM_SRCS)) $(B)/libdjclient.a $(LDFLAGS_ALL) -lpam

$(B)/django-authd: $(call obj,daemon/main.cc) $(B)/libdjdaemon.a $(B)/libdjcore.a $(B)/libdjclient.a
	$(CXX) -pie -o $@ $^ $(LDFLAGS_ALL) $(LIBS_DB) $(LIBS_INI) $(LIBS_HASH)

# The MySQL/MariaDB engine: a plugin the daemon loads only when engine =
# mysql (daemon/mysql_plugin.h), so the daemon itself never links libmariadb.
# It exports one symbol (dj_mysql_engine_create).
# The daemon looks for it in PLUGINDIR: recompiled when that changes.
$(shell echo '$(PLUGINDIR)' | cmp -s - $(B)/.plugindir || echo '$(PLUGINDIR)' > $(B)/.plugindir)
$(B)/obj/daemon/mysql_plugin.o: CXXFLAGS_ALL += -DDJ_PLUGIN_DIR='"$(PLUGINDIR)"'
$(B)/obj/daemon/mysql_plugin.o: $(B)/.plugindir
$(MYSQL_PLUGIN): $(call obj,daemon/db_mysql.cc daemon/mysql_text.cc) daemon/mysql_plugin.map
	$(CXX) -shared -Wl,--version-script=daemon/mysql_plugin.map -Wl,--no-undefined \
	  -o $@ $(call obj,daemon/db_mysql.cc daemon/mysql_text.cc) $(LDFLAGS_ALL) $(LIBS_MYSQL)

$(B)/django-authctl: $(call obj,$(TOOL_SRCS)) $(B)/libdjcore.a $(B)/libdjclient.a
	$(CXX) -pie -o $@ $^ $(LDFLAGS_ALL) $(LIBS_INI) $(LIBS_HASH)

# The trigger SQL has one copy, in the Django app (its migration reads it);
# django-authctl install-triggers prints it, built in as a string literal.
$(B)/gen/notify_triggers_sql.inc: contrib/django_authd/sql/notify_triggers.sql
	@mkdir -p $(dir $@)
	{ printf 'R"djsql('; cat $<; printf ')djsql"\n'; } > $@
$(B)/obj/tools/cmd_triggers.o: $(B)/gen/notify_triggers_sql.inc
$(B)/obj/tools/cmd_triggers.o: CXXFLAGS_ALL += -I$(B)/gen

# --- tests ---------------------------------------------------------------------
# Each tests/unit/test_*.cc is one cmocka program; tests/helpers/*.cc are small
# programs the integration tests drive (NSS and PAM harnesses).
TEST_LIBS = $(B)/libdjdaemon.a $(B)/libdjnss.a $(B)/libdjpam.a $(B)/libdjcore.a $(B)/libdjclient.a
$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_UNIT) $(LIBS_DB) $(LIBS_INI) $(LIBS_HASH) -lpam
$(B)/tests/%: $(B)/obj/tests/helpers/%.o
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $^ $(LDFLAGS_ALL) -lpam

# Benchmark programs (bench/*.cc): core and client code, no test framework.
$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libdjcore.a $(B)/libdjclient.a
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_INI) $(LIBS_HASH)

unit: $(UNIT_BINS)

check: all $(UNIT_BINS) $(HELPER_BINS) $(REPLAY_BINS) $(B)/.deps-test
	@tests/run --build $(B) --sanitize $(SANITIZE)

# The edit-compile-test loop: the cmocka tests and the integration tests that
# need no PostgreSQL or MariaDB, no real services and little time (about a minute;
# tests/README.md lists what each marker leaves out).
check-unit: all $(UNIT_BINS) $(HELPER_BINS) $(REPLAY_BINS) $(B)/.deps-test
	@tests/run --build $(B) --sanitize $(SANITIZE) -m "not postgres and not mariadb and not e2e and not slow"

# The daemon and NSS client concurrency tests under ThreadSanitizer, in their
# own build directory (tests/run --sanitize thread picks the subset).
TSAN_B ?= build-tsan
check-tsan:
	@$(MAKE) --no-print-directory B=$(TSAN_B) SANITIZE=thread all unit $(patsubst $(B)/%,$(TSAN_B)/%,$(HELPER_BINS)) $(TSAN_B)/.deps-test
	@tests/run --build $(TSAN_B) --sanitize thread

# --- fuzzing -------------------------------------------------------------------
# fuzz/fuzz_*.cc are libFuzzer targets (LLVMFuzzerTestOneInput). make check
# builds each with the normal compiler and fuzz/replay_main.cc into
# $(B)/fuzz/replay_* and replays fuzz/corpus/ and fuzz/regressions/ through
# it; make fuzz builds them with clang's libFuzzer into build-fuzz/ and runs
# each for FUZZ_SECONDS, from its seed corpus and dictionary.
FUZZ_B       ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CXX     ?= clang++-14
PKGS_FUZZ    := clang-14 libclang-rt-14-dev
FUZZ_LIBS = $(B)/libdjdaemon.a $(B)/libdjnss.a $(B)/libdjcore.a $(B)/libdjclient.a
FUZZ_LDLIBS = $(LIBS_DB) $(LIBS_INI) $(LIBS_HASH)

$(B)/fuzz/replay_%: $(B)/obj/fuzz/%.o $(B)/obj/fuzz/replay_main.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $^ $(LDFLAGS_ALL) $(FUZZ_LDLIBS)
$(B)/fuzz/%: $(B)/obj/fuzz/%.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS_ALL) $(FUZZ_LDLIBS)
$(B)/.deps-fuzz: tools/ensure-packages
	@mkdir -p $(B) && tools/ensure-packages $(PKGS_FUZZ) && touch $@

# Keep the harness objects between runs (they are only intermediate files).
.SECONDARY: $(call obj,$(FUZZ_SRCS) fuzz/replay_main.cc)

fuzz-build: $(B)/.deps-fuzz $(patsubst %,$(B)/fuzz/%,$(FUZZ_NAMES))

fuzz:
	@tools/ensure-packages $(PKGS_BUILD) $(PKGS_FUZZ)
	@$(MAKE) --no-print-directory B=$(FUZZ_B) SANITIZE=fuzz CXX=$(FUZZ_CXX) fuzz-build
	@fuzz/run $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_NAMES)

demo: all $(B)/.deps-test
	@tests/demo.sh $(B)

bench: all $(BENCH_BINS) $(B)/.deps-test $(B)/.deps-bench
	@bench/run $(B)

# --- install -------------------------------------------------------------------
# The same files the Debian packages hold (debian/ builds them with this
# target; tests/package-test.sh compares the two lists):
#   pam_django.so, the pam-auth-update profile, pam_django(8)   -> libpam-django
#   libnss_django.so.2, libnss_django(8)                        -> libnss-django
#   the daemon, django-authctl, the systemd units, sysusers.d, tmpfiles.d,
#   the default configuration (mode 0600), their man pages      -> django-authd
#   django-authd-mysql.so (the MySQL/MariaDB engine)            -> django-authd-mysql
# The installed configuration runs the daemon as DAEMON_USER (the system user
# dist/django-authd.sysusers creates); DAEMON_USER= keeps the built-in default
# (the uid it was started with).
UNITDIR      ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/lib/systemd/system)
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR  ?= $(PREFIX)/lib/tmpfiles.d
PAMCONFIGDIR ?= $(PREFIX)/share/pam-configs
DAEMON_USER  ?= _django-authd

install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0644 $(B)/pam_django.so $(DESTDIR)$(PAMDIR)/pam_django.so
	install -m 0644 $(B)/libnss_django.so.2 $(DESTDIR)$(LIBDIR)/libnss_django.so.2
	install -m 0755 $(B)/django-authd $(DESTDIR)$(SBINDIR)/django-authd
	install -m 0755 $(B)/django-authctl $(DESTDIR)$(BINDIR)/django-authctl
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 0644 $(MYSQL_PLUGIN) $(DESTDIR)$(PLUGINDIR)/django-authd-mysql.so
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/django-auth
	awk -v u='$(DAEMON_USER)' '/^\[/ { s = $$0 } s == "[daemon]" && /^user[ \t]*=/ { $$0 = "user = " u } { print }' \
	  config/django-auth.conf > $(B)/django-auth.conf.install
	@# An existing configuration is the admin's: never overwritten.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/django-auth/django-auth.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/django-auth/django-auth.conf (the new default is $(B)/django-auth.conf.install)"; \
	else \
	  echo "install -m 0600 $(B)/django-auth.conf.install $(DESTDIR)$(SYSCONFDIR)/django-auth/django-auth.conf"; \
	  install -m 0600 $(B)/django-auth.conf.install $(DESTDIR)$(SYSCONFDIR)/django-auth/django-auth.conf; \
	fi
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(PAMCONFIGDIR)
	install -m 0644 dist/django-authd.service dist/django-authd.socket $(DESTDIR)$(UNITDIR)/
	install -m 0644 dist/django-authd.sysusers $(DESTDIR)$(SYSUSERSDIR)/django-authd.conf
	@# /var/lib/django-auth for the offline credentials, the daemon user's (made at boot,
	@# or now by systemd-tmpfiles --create).
	install -d $(DESTDIR)$(TMPFILESDIR)
	sed 's/_django-authd _django-authd/$(or $(DAEMON_USER),root) $(or $(DAEMON_USER),root)/' \
	  dist/django-authd.tmpfiles > $(B)/django-authd.tmpfiles
	install -m 0644 $(B)/django-authd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/django-authd.conf
	install -m 0644 dist/pam-configs/django $(DESTDIR)$(PAMCONFIGDIR)/django
	@for m in man/*.[0-9]; do [ -f "$$m" ] || continue; s=$${m##*.}; \
	  echo "install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s && install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

# Everything install put there but the configuration, which is the admin's
# (remove /etc/django-auth by hand to purge). Run pam-auth-update --disable
# django first if the profile is in use.
uninstall:
	rm -f $(DESTDIR)$(PAMDIR)/pam_django.so $(DESTDIR)$(LIBDIR)/libnss_django.so.2 \
	  $(DESTDIR)$(SBINDIR)/django-authd $(DESTDIR)$(BINDIR)/django-authctl \
	  $(DESTDIR)$(PLUGINDIR)/django-authd-mysql.so \
	  $(DESTDIR)$(UNITDIR)/django-authd.service $(DESTDIR)$(UNITDIR)/django-authd.socket \
	  $(DESTDIR)$(SYSUSERSDIR)/django-authd.conf $(DESTDIR)$(TMPFILESDIR)/django-authd.conf \
	  $(DESTDIR)$(PAMCONFIGDIR)/django
	@for m in man/*.[0-9]; do [ -f "$$m" ] || continue; s=$${m##*.}; \
	  echo "rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}"; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

# Every build directory: the fuzzers' new inputs and crash artifacts are in
# build-fuzz/fuzz/ (fuzz/run); libFuzzer run by hand writes crash-* and the
# like into the working directory.
clean:
	rm -rf $(sort build build-asan build-tsan build-fuzz $(B) $(TSAN_B) $(FUZZ_B))
	rm -f crash-* leak-* timeout-* oom-* slow-unit-*
