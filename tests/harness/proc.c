/*
 * proc.c - the processes xact-harness starts.  Each runs detached (its own
 * session, so a Ctrl-C at the terminal reaches only the harness, which then
 * stops it) under a small keeper process that records, in the state folder:
 *
 *   NAME.pid     the PID, while the process runs (removed when it ends)
 *   NAME.status  its exit status as a shell reports it (0-255, 128+signal)
 *   NAME.log     its stdout and stderr, appended
 *
 * so that any later `xact-harness` command can signal it by PID, wait for
 * it, and tell how it ended.  Never signals a process it did not start:
 * PIDs come only from NAME.pid, written by the keeper.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t h_interrupted;

void
h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
file_of(char *buf, size_t n, const char *dir, const char *name, const char *ext)
{
	snprintf(buf, n, "%s/%s.%s", dir, name, ext);
}

/* Writes text to path through a temporary file and rename: a reader sees
 * the old content or the new, never half.  Returns 0 or -1. */
static int
write_atomic(const char *path, const char *text)
{
	char tmp[H_PATH + 32];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	f = fopen(tmp, "w");
	if (f == NULL) {
		return -1;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The keeper: runs in its own session, starts the process, records its
 * PID, waits, records how it ended.  Never returns. */
static void
keeper(const char *dir, const char *name, char *const argv[], const char *const env[], int logfd)
{
	char pidf[H_PATH + 64], statf[H_PATH + 64], text[48];
	int status, code;
	pid_t pid;

	file_of(pidf, sizeof(pidf), dir, name, "pid");
	file_of(statf, sizeof(statf), dir, name, "status");
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	pid = fork();
	if (pid < 0) {
		_exit(1);
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(logfd);
		for (int i = 0; env != NULL && env[i] != NULL; i++) {
			if (strchr(env[i], '=') != NULL) {
				putenv((char *)env[i]);
			} else {
				unsetenv(env[i]);
			}
		}
		execvp(argv[0], argv);
		fprintf(stderr, "xact-harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(logfd);
	snprintf(text, sizeof(text), "%d %d\n", (int)pid, (int)getpid());
	write_atomic(pidf, text);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	snprintf(text, sizeof(text), "%d\n", code);
	/* Status first: whoever sees the PID file gone finds how it ended;
	 * and nothing starts NAME again until the PID file is gone, so this
	 * unlink cannot remove a successor's. */
	write_atomic(statf, text);
	unlink(pidf);
	_exit(0);
}

static int wait_gone(const char *dir, const char *name, int timeout_ms);

int
proc_start(const char *dir, const char *name, char *const argv[], const char *const env[],
    char *err, size_t errlen)
{
	char logf[H_PATH + 64], statf[H_PATH + 64];
	pid_t mid;
	int logfd, status;

	if (proc_pid(dir, name) != 0) {
		snprintf(err, errlen, "%s is already running", name);
		return -1;
	}
	/* It ended but its keeper may still be recording it: until the
	 * keeper is done, a new PID file could be the one it removes. */
	if (wait_gone(dir, name, 5000) != 0) {
		snprintf(err, errlen, "%s: its previous keeper is still running", name);
		return -1;
	}
	file_of(logf, sizeof(logf), dir, name, "log");
	file_of(statf, sizeof(statf), dir, name, "status");
	unlink(statf);
	logfd = open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		snprintf(err, errlen, "%s: %s", logf, strerror(errno));
		return -1;
	}
	/* Double fork: the keeper is nobody's child here, so nothing of ours
	 * has to reap it, and it outlives a harness that only ran `up`. */
	mid = fork();
	if (mid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(logfd);
		return -1;
	}
	if (mid == 0) {
		/* Nothing of the caller's may stay open: a shell reading our
		 * stdout, `env=$(xact-harness up ...)`, waits for its end. */
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		for (int fd = 3; fd < 1024; fd++) {
			if (fd != logfd) {
				close(fd);
			}
		}
		setsid();
		if (fork() == 0) {
			fcntl(logfd, F_SETFD, 0);
			keeper(dir, name, argv, env, logfd);
		}
		_exit(0);
	}
	close(logfd);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {
	}
	for (int i = 0; i < 1000; i++) {
		if (proc_pid(dir, name) != 0) {
			return 0;
		}
		if (access(statf, F_OK) == 0) {
			return 0; /* it already ended: its status tells how */
		}
		h_sleep_ms(5);
	}
	snprintf(err, errlen, "%s did not start (see %s)", name, logf);
	return -1;
}

/* Reads NAME.pid: the process and its keeper.  0, or -1 when there is no
 * such file or it does not hold two PIDs. */
static int
read_pidfile(const char *dir, const char *name, int *pid, int *keeper)
{
	char path[H_PATH + 64];
	FILE *f;
	int ok;

	file_of(path, sizeof(path), dir, name, "pid");
	if ((f = fopen(path, "r")) == NULL) {
		return -1;
	}
	ok = fscanf(f, "%d %d", pid, keeper) == 2 && *pid > 1 && *keeper > 1;
	fclose(f);
	return ok ? 0 : -1;
}

int
proc_pid(const char *dir, const char *name)
{
	char stat[64];
	FILE *f;
	int pid, keeper, ppid = 0, trusted;

	if (read_pidfile(dir, name, &pid, &keeper) != 0) {
		return 0;
	}
	/* Trusted only while its keeper is its parent: a PID reused after a
	 * reboot, or after the keeper was killed, is somebody else's. */
	snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
	if ((f = fopen(stat, "r")) == NULL) {
		return 0;
	}
	trusted = fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) == 1 && ppid == keeper;
	fclose(f);
	return trusted ? pid : 0;
}

int
proc_signal(const char *dir, const char *name, int sig)
{
	int pid = proc_pid(dir, name);

	if (pid == 0 || kill(pid, sig) != 0) {
		return -1;
	}
	return 0;
}

/* 1 when NAME's PID file names a live keeper. */
static int
keeper_alive(const char *dir, const char *name)
{
	int pid, keeper;

	return read_pidfile(dir, name, &pid, &keeper) == 0 &&
	       (kill(keeper, 0) == 0 || errno == EPERM);
}

/* Waits up to timeout_ms for NAME's PID file to go (its keeper removes it
 * once the process ended and its status is written); 0 when it went.  A
 * file whose process and keeper are both gone (the keeper was killed) is
 * stale, and removed. */
static int
wait_gone(const char *dir, const char *name, int timeout_ms)
{
	char path[H_PATH + 64];

	file_of(path, sizeof(path), dir, name, "pid");
	for (int waited = 0; access(path, F_OK) == 0; waited += 10) {
		if (proc_pid(dir, name) == 0 && !keeper_alive(dir, name)) {
			unlink(path);
			return 0;
		}
		if (waited >= timeout_ms) {
			return -1;
		}
		h_sleep_ms(10);
	}
	return 0;
}

int
proc_stop(const char *dir, const char *name, int sig, int timeout_ms)
{
	int pid = proc_pid(dir, name);

	if (pid == 0) {
		return wait_gone(dir, name, 5000); /* let its keeper finish */
	}
	kill(pid, sig);
	if (sig == SIGSTOP) {
		return 0;
	}
	kill(pid, SIGCONT); /* a paused process could not act on sig */
	if (wait_gone(dir, name, timeout_ms) == 0) {
		return 0;
	}
	kill(pid, SIGKILL);
	return wait_gone(dir, name, 5000);
}

int
proc_wait(const char *dir, const char *name, int timeout_ms, int *status)
{
	char path[H_PATH + 64];
	FILE *f;

	if (wait_gone(dir, name, timeout_ms) != 0) {
		return -1;
	}
	file_of(path, sizeof(path), dir, name, "status");
	for (int i = 0; i < 200; i++) { /* the keeper writes it right after */
		f = fopen(path, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d", status) == 1;

			fclose(f);
			if (ok) {
				return 0;
			}
		}
		h_sleep_ms(5);
	}
	*status = -1;
	return 0;
}

int
proc_wait_port(int port, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int waited = 0; waited < timeout_ms && !h_interrupted; waited += 20) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		if (fd < 0) {
			return -1;
		}
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok) {
			return 0;
		}
		h_sleep_ms(20);
	}
	return -1;
}

int
proc_run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		if (log != NULL) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		for (int fd = 3; fd < 1024; fd++) {
			close(fd); /* nothing of ours for a postmaster to keep */
		}
		execvp(argv[0], argv);
		fprintf(stderr, "xact-harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			return -1;
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
