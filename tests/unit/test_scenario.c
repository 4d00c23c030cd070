/*
 * test_scenario.c - xact-harness's scenario files (tests/harness/scenario.c):
 * defaults, sections given twice, every kind of refusal with its line or
 * section named, ports, and the state folder's ports file read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "xact.h"

static struct scenario sc;
static char err[1024];

static int
group_setup(void **state)
{
	(void)state;
	return tmpdir_make("scenario");
}

static int
group_teardown(void **state)
{
	(void)state;
	return tmpdir_remove();
}

/* Loads text as a scenario file of the test folder (state folder
 * DIR/state); returns sc_load's result, the message in err. */
static int
load(const char *text)
{
	char path[512], state[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/s.ini", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return sc_load(&sc, path, state, err, sizeof(err));
}

static const char bank[] =
    "[postgres main]\n"
    "[database a]\ntype = postgres\ncluster = main\nbank = yes\n"
    "[database b]\ntype = sqlite\nbank = yes\n"
    "[participant pa]\ndatabase = a\n"
    "[participant pb]\ndatabase = b\n"
    "[workload]\ntype = bank\n";

static void
test_defaults_of_a_bank_scenario(void **state)
{
	(void)state;
	assert_int_equal(load(bank), 0);
	assert_int_equal(sc.nclusters, 1);
	assert_int_equal(sc.clusters[0].port, 0);
	assert_int_equal(sc.clusters[0].fsync, 0);
	assert_string_equal(sc.databases[0].dbname, "a");
	/* SQLite files live in the state folder. */
	assert_non_null(strstr(sc.databases[1].file, "/state/b.db"));
	assert_string_equal(sc.coord.name, "coord");
	assert_string_equal(sc.coord.id, "c1");
	assert_int_equal(sc.wl.type, WL_BANK);
	assert_int_equal(sc.wl.clients, 8);
	assert_true(sc.wl.duration == 5);
	assert_int_equal(sc.wl.nparticipants, 2); /* all of them */
	assert_int_equal(sc.wl.protocol, XACT_PROTOCOL_2PC);
	assert_true(sc.settle == 30);
}

static void
test_a_section_given_again_adds_to_the_first(void **state)
{
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%s[participant pb]\nenv = A=1 B=2\n[workload]\n"
	    "transfers = 10\nclients = 1\n", bank);
	assert_int_equal(load(text), 0);
	assert_int_equal(sc.nparts, 2);
	assert_string_equal(sc.parts[1].database, "b");
	assert_string_equal(sc.parts[1].env, "A=1 B=2");
	assert_int_equal(sc.wl.transfers, 10);
	assert_int_equal(sc.wl.clients, 1);
	assert_true(sc.wl.duration == 0);
}

/* Each refusal, with the words that must be in its message. */
static void
test_bad_scenarios_are_refused_with_the_place_named(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"[postgres main]\nport = 5432\nbogus = 1\n", "s.ini:3: [postgres]: unknown key 'bogus'"},
	    {"[postgre main]\n", "unknown section [postgre main]"},
	    {"[database a]\ntype = oracle\n", "type must be postgres or sqlite"},
	    {"[database a]\ntype = postgres\ncluster = nowhere\n", "cluster 'nowhere' is not"},
	    {"[database a]\ntype = sqlite\nschema = missing.sql\n", "cannot read"},
	    {"[database A]\ntype = sqlite\n", "a name is 1-31 of a-z 0-9 _"},
	    {"[database a]\ntype = sqlite\n[participant pa]\ndatabase = b\n", "database 'b'"},
	    {"[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n"
	     "[participant pb]\ndatabase = a\n", "serve one database"},
	    {"[database a]\ntype = sqlite\n[participant coord]\ndatabase = a\n", "name is taken"},
	    {"[postgres m]\nport = 20000\n[postgres n]\nport = 20000\n", "port 20000 is given twice"},
	    {"[postgres m]\nport = 80\n", "port must be"},
	    {"[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n[workload]\n"
	     "type = bank\n", "needs 2 or more participants"},
	    {"[database a]\ntype = sqlite\nbank = yes\n[database b]\ntype = sqlite\n"
	     "[participant pa]\ndatabase = a\n[participant pb]\ndatabase = b\n[workload]\n"
	     "type = bank\n", "has no bank tables"},
	    {"[workload]\ntype = sql\n[database a]\ntype = sqlite\n[participant pa]\n"
	     "database = a\n", "needs file"},
	    {"[workload]\nduration = 2\ntransfers = 3\n[database a]\ntype = sqlite\nbank = yes\n"
	     "[database b]\ntype = sqlite\nbank = yes\n[participant pa]\ndatabase = a\n"
	     "[participant pb]\ndatabase = b\n[workload]\ntype = bank\n", "not both"},
	    {"[workload]\nabort_ratio = 2\n", "abort_ratio must be a number in 0..1"},
	    {"[workload]\nprotocol = 4pc\n", "protocol must be 2pc or 3pc"},
	    {"[fault f]\ntype = meteor\n", "type must be kill"},
	    {"[fault f]\ntype = kill\ntarget = nobody\n", "not a participant or the coordinator"},
	    {"[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n[fault f]\n"
	     "type = cut\ntarget = pa\n", "proxy = yes"},
	    {"[fault f]\nfailpoint = part.nowhere\n", "failpoint 'part.nowhere' is not one"},
	    {"[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n[fault f]\n"
	     "type = crash_at\ntarget = pa\n", "crash_at needs failpoint"},
	    {"[fault f]\nat = soon\n", "at must be a number of seconds"},
	    {"[participant pa]\nenv = NOEQUALS\n", "is not NAME=VALUE"},
	    {"[check c]\nquery = SELECT 1\n", "needs database = NAME"},
	    {"[harness]\nsettle = 0\n", "settle must be"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (load(cases[i].text) == 0 || strstr(err, cases[i].msg) == NULL) {
			fail_msg("case %zu: expected an error with \"%s\", got \"%s\"", i, cases[i].msg,
			    err);
		}
	}
}

static void
test_faults_take_their_defaults(void **state)
{
	(void)state;
	assert_int_equal(load("[postgres main]\n[database a]\ntype = sqlite\n"
	                      "[participant pa]\ndatabase = a\n"
	                      "[fault k]\ntype = kill\ntarget = pa\nat = random\n"
	                      "[fault p]\ntype = pause\ntarget = coord\nat = 1.5\n"
	                      "[fault c]\ntype = crash_at\ntarget = pa\nfailpoint = part.before_vote\n"
	                      "[fault r]\ntype = pg_restart\ntarget = main\n"),
	    0);
	assert_int_equal(sc.nfaults, 4);
	assert_true(sc.faults[0].at_random);
	assert_true(sc.faults[0].duration == 0.5);
	assert_true(sc.faults[1].at == 1.5 && sc.faults[1].duration == 1);
	assert_int_equal(sc.faults[2].hit, 1);
	assert_true(sc.faults[2].duration == 0);
	assert_string_equal(sc_fault_name(sc.faults[3].type), "pg_restart");
}

static void
test_ports_are_chosen_distinct_and_read_back(void **state)
{
	struct scenario copy;
	char path[512];

	(void)state;
	assert_int_equal(load("[postgres main]\n[database a]\ntype = sqlite\n"
	                      "[participant pa]\ndatabase = a\n[participant pb]\ndatabase = a2\n"
	                      "[database a2]\ntype = sqlite\n[coordinator]\nproxy = yes\n"),
	    0);
	assert_int_equal(sc_assign_ports(&sc, err, sizeof(err)), 0);
	{
		int p[] = {sc.clusters[0].port, sc.parts[0].port, sc.parts[1].port, sc.coord.port,
		    sc_proxy_port(&sc, 0, 0), sc_proxy_port(&sc, 0, 1), sc_proxy_port(&sc, 1, 0),
		    sc_proxy_port(&sc, 1, 1)};

		for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
			assert_in_range(p[i], 15000, 32767);
			for (size_t j = 0; j < i; j++) {
				assert_int_not_equal(p[i], p[j]);
			}
		}
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	mkdir(path, 0755);
	assert_int_equal(sc_save_ports(&sc, err, sizeof(err)), 0);
	copy = sc;
	assert_int_equal(load("[postgres main]\n[database a]\ntype = sqlite\n"
	                      "[participant pa]\ndatabase = a\n[participant pb]\ndatabase = a2\n"
	                      "[database a2]\ntype = sqlite\n[coordinator]\nproxy = yes\n"),
	    0);
	assert_int_equal(sc.parts[0].port, 0);
	assert_int_equal(sc_load_ports(&sc, err, sizeof(err)), 0);
	assert_int_equal(sc.parts[0].port, copy.parts[0].port);
	assert_int_equal(sc.coord.port, copy.coord.port);
	assert_int_equal(sc.clusters[0].port, copy.clusters[0].port);
	assert_int_equal(sc_proxy_port(&sc, 1, 1), sc_proxy_port(&copy, 1, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_of_a_bank_scenario),
	    cmocka_unit_test(test_a_section_given_again_adds_to_the_first),
	    cmocka_unit_test(test_bad_scenarios_are_refused_with_the_place_named),
	    cmocka_unit_test(test_faults_take_their_defaults),
	    cmocka_unit_test(test_ports_are_chosen_distinct_and_read_back),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
