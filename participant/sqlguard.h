/*
 * sqlguard.h - refuses client statements that would end or split the
 * branch's local transaction (COMMIT, ROLLBACK, END, ABORT, PREPARE
 * TRANSACTION ...): run inside a branch they would commit or discard part
 * of a global transaction behind the coordinator's back.  Pure text
 * inspection; no I/O.
 */
#ifndef XACT_SQLGUARD_H
#define XACT_SQLGUARD_H

/* Returns NULL when sql may run inside a branch, else the reason. */
const char *sqlguard_check(const char *sql);

#endif
