/*
 * sqlguard.c - the first keywords of a statement, after blanks and
 * comments, decide.  Statements the database itself refuses inside a
 * transaction block (VACUUM, COMMIT PREPARED, a procedure's COMMIT) need no
 * check here; those that would silently end the block do.
 */
#include "sqlguard.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Skips blanks, empty statements, -- comments and (nested) block comments. */
static const char *
skip_blank(const char *p)
{
	for (;;) {
		/* Empty statements too: PostgreSQL drops them, so ";COMMIT"
		 * is a COMMIT. */
		while (isspace((unsigned char)*p) || *p == ';') {
			p++;
		}
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n') {
				p++;
			}
		} else if (p[0] == '/' && p[1] == '*') {
			int depth = 0;

			do {
				if (p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else {
					p++;
				}
			} while (*p != '\0' && depth > 0);
		} else {
			return p;
		}
	}
}

/* Copies the next word (letters and _) upper-cased into w; returns the
 * text after it. */
static const char *
word(const char *p, char *w, size_t n)
{
	size_t i = 0;

	p = skip_blank(p);
	while ((isalpha((unsigned char)*p) || *p == '_') && i + 1 < n) {
		w[i++] = (char)toupper((unsigned char)*p++);
	}
	w[i] = '\0';
	return p;
}

const char *
sqlguard_check(const char *sql)
{
	char first[16], second[16];
	const char *rest = word(sql, first, sizeof(first));

	word(rest, second, sizeof(second));
	if (strcmp(first, "COMMIT") == 0 || strcmp(first, "END") == 0 ||
	    strcmp(first, "ABORT") == 0 ||
	    (strcmp(first, "ROLLBACK") == 0 && strcmp(second, "TO") != 0) ||
	    (strcmp(first, "PREPARE") == 0 && strcmp(second, "TRANSACTION") == 0) ||
	    strcmp(first, "BEGIN") == 0 || strcmp(first, "START") == 0) {
		return "transaction control statements are not allowed in a global "
		       "transaction: the coordinator commits or rolls back";
	}
	return NULL;
}
