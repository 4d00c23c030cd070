/*
 * proxy.c - the harness's link proxy: one process on every
 * coordinator<->participant link of a scenario, forwarding its bytes so that
 * faults can cut, slow down or reset a link without touching either end.
 *
 * Owns: two listening ports per participant, the connections accepted on
 * them with their upstream twins, and DIR/proxy.sock (removed at exit).
 * Must never alter, drop or reorder a forwarded byte: a cut or a slow link
 * only delays data, like TCP across a partition that heals; only `reset`, an
 * error or a closing end ends a connection.  Must never block: one thread,
 * one poll() loop, nonblocking sockets.
 *
 * A connection pair goes
 *   CONNECTING (upstream connect in flight; the client's bytes are buffered)
 *   -> OPEN (bytes both ways)
 *   -> DRAINING (one end closed; what it sent is flushed to the other end)
 *   -> closed.
 * A failed connect, an error or `reset` closes both ends at once.  While its
 * participant is cut a pair is frozen in whatever state it is in.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PX_BUF (256 * 1024) /* bytes buffered per direction of a pair */
#define PX_MARKS 64	    /* chunks with their own release time, per direction */
#define PX_MAXCONN 256	    /* pairs, all links together */
#define PX_MAXCTL 16	    /* control clients at once */
#define PX_LINE 512	    /* longest control line, newline included */
#define PX_REPLY 2048	    /* longest reply line (status of H_MAX links) */
#define PX_BACKLOG 128	    /* a cut link's new connections wait here */
#define PX_TICK_MS 250	    /* longest poll() wait */
#define PX_PAUSE_MS 100	    /* no accept() for this long after running out of fds */
#define PX_SLOW_MAX 3600000 /* slow: at most an hour */
#define PX_REPLY_MS 2000    /* proxy_command: how long to wait for the reply */
#define PX_NPOLL (1 + PX_MAXCTL + 2 * H_MAX + 2 * PX_MAXCONN)

/* A chunk read in one recv(): where it ends (in bytes ever read) and the
 * earliest time it may leave. */
struct px_mark {
	uint64_t end;
	int64_t release;
};

/* One direction of a pair: bytes read from one end, not yet written to the
 * other.  Invariant: out <= in <= out + PX_BUF, and the last mark ends at in. */
struct px_dir {
	char *buf;			/* PX_BUF bytes, a ring */
	uint64_t in, out;		/* bytes ever read into it, written out of it */
	struct px_mark marks[PX_MARKS]; /* a ring, oldest first */
	unsigned mhead, mcount;
	int eof; /* its reading end closed: flush what is left, then close the pair */
};

/* A pair: end 0 accepted from a client, end 1 dialed upstream.  dir[s]
 * carries what end s sent to end 1 - s. */
struct px_conn {
	int part;
	int link; /* 0 coordinator->participant, 1 participant->coordinator */
	int fd[2];
	int connecting; /* end 1's connect() has not completed */
	int dead;	/* both ends closed; freed at the end of the loop's pass */
	struct px_dir dir[2];
};

/* A participant's two links. */
struct px_part {
	const char *name;
	int lfd[2];   /* listeners, by link */
	int lport[2]; /* their ports */
	int uport[2]; /* where their connections go */
	int cut;      /* no bytes move, no accepts */
	int slow_ms;  /* each chunk leaves this long after it was read */
};

/* A control client: the start of its next line. */
struct px_ctl {
	int fd; /* -1: free slot */
	size_t n;
	char line[PX_LINE];
};

enum px_kind { PK_CONN, PK_LISTEN, PK_CTL_LISTEN, PK_CTL };

/* What a pollfd stands for. */
struct px_slot {
	enum px_kind kind;
	void *p; /* px_conn, px_part or px_ctl */
	int i;	 /* conn: its end; listener: its link */
};

struct proxy {
	struct px_part parts[H_MAX];
	int nparts;
	int ctl_fd;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" until bound */
	struct px_ctl ctls[PX_MAXCTL];
	struct px_conn *conns[PX_MAXCONN];
	int nconns;
	int64_t accept_after; /* listeners rest until then */
	int quit;
	struct pollfd pfd[PX_NPOLL];
	struct px_slot slot[PX_NPOLL];
	int npoll;
};

/* The saved dispositions proxy_main restores when it returns. */
struct px_sigs {
	struct sigaction term, intr, pipe;
};

/* ---- small helpers ---- */

/* Milliseconds of CLOCK_MONOTONIC.  Cannot fail. */
static int64_t
px_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
px_addr(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Small nng messages must not wait for Nagle.  Failure only costs latency. */
static void
px_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Fills sa with DIR/proxy.sock.  Returns -1 with err when it is too long. */
static int
px_sock_path(const char *dir, struct sockaddr_un *sa, char *err, size_t errlen)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/proxy.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "%s/proxy.sock: path longer than a UNIX socket allows (%zu)",
			 dir, sizeof(sa->sun_path) - 1);
		return -1;
	}
	return 0;
}

static int
px_again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* ---- signals ---- */

static void
px_on_signal(int sig)
{
	(void)sig;
	h_interrupted = 1; /* only a flag: the loop notices it */
}

/* SIGTERM and SIGINT end the loop (no SA_RESTART: they interrupt poll());
 * SIGPIPE is ignored (sends also use MSG_NOSIGNAL).  Cannot fail. */
static void
px_signals(struct px_sigs *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = px_on_signal;
	sigaction(SIGTERM, &sa, &old->term);
	sigaction(SIGINT, &sa, &old->intr);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old->pipe);
}

static void
px_signals_restore(const struct px_sigs *old)
{
	sigaction(SIGTERM, &old->term, NULL);
	sigaction(SIGINT, &old->intr, NULL);
	sigaction(SIGPIPE, &old->pipe, NULL);
}

/* ---- a direction's buffer and its chunks ---- */

/* Records a chunk ending at d->in.  When the ring is full, or the chunk
 * would not leave before the last one anyway, the last chunk grows instead:
 * its bytes then leave no earlier than they may.  Cannot fail. */
static void
px_mark_add(struct px_dir *d, int64_t release, int64_t now)
{
	struct px_mark *last;

	if (d->mcount > 0) {
		last = &d->marks[(d->mhead + d->mcount - 1) % PX_MARKS];
		if (d->mcount == PX_MARKS || last->release >= release ||
		    (last->release <= now && release <= now)) {
			last->end = d->in;
			if (release > last->release) {
				last->release = release;
			}
			return;
		}
	}
	d->marks[(d->mhead + d->mcount) % PX_MARKS] = (struct px_mark){d->in, release};
	d->mcount++;
}

/* Forgets the chunks written out entirely. */
static void
px_mark_pop(struct px_dir *d)
{
	while (d->mcount > 0 && d->marks[d->mhead].end <= d->out) {
		d->mhead = (d->mhead + 1) % PX_MARKS;
		d->mcount--;
	}
}

/* Lets every buffered chunk leave now (heal, slow 0). */
static void
px_mark_release(struct px_dir *d)
{
	for (unsigned k = 0; k < d->mcount; k++) {
		d->marks[(d->mhead + k) % PX_MARKS].release = 0;
	}
}

/* How many bytes may be written now: those of the chunks, in order, whose
 * time has come. */
static uint64_t
px_ready(const struct px_dir *d, int64_t now)
{
	uint64_t limit = d->out;

	for (unsigned k = 0; k < d->mcount; k++) {
		const struct px_mark *m = &d->marks[(d->mhead + k) % PX_MARKS];

		if (m->release > now) {
			break;
		}
		limit = m->end;
	}
	return limit - d->out;
}

/* When the first chunk still held back may leave; 0 when none is. */
static int64_t
px_next_release(const struct px_dir *d, int64_t now)
{
	for (unsigned k = 0; k < d->mcount; k++) {
		const struct px_mark *m = &d->marks[(d->mhead + k) % PX_MARKS];

		if (m->release > now) {
			return m->release;
		}
	}
	return 0;
}

static uint64_t
px_room(const struct px_dir *d)
{
	return PX_BUF - (d->in - d->out);
}

/* One recv() from fd into d.  Returns 0 (data, nothing yet, or end of
 * stream: d->eof set), or -1 when the socket failed. */
static int
px_read(struct px_dir *d, int fd, int slow_ms, int64_t now)
{
	size_t off = d->in % PX_BUF;
	size_t len = PX_BUF - off;
	ssize_t n;

	if (px_room(d) < len) {
		len = (size_t)px_room(d);
	}
	if (len == 0 || d->eof) {
		return 0;
	}
	n = recv(fd, d->buf + off, len, 0);
	if (n > 0) {
		d->in += (uint64_t)n;
		px_mark_add(d, now + slow_ms, now);
	} else if (n == 0) {
		d->eof = 1;
	} else if (!px_again(errno)) {
		return -1;
	}
	return 0;
}

/* Writes to fd what of d may leave now, until the socket is full.  Returns
 * 0, or -1 when the socket failed (the peer is gone). */
static int
px_write(struct px_dir *d, int fd, int64_t now)
{
	uint64_t ready;

	while ((ready = px_ready(d, now)) > 0) {
		size_t off = d->out % PX_BUF;
		size_t len = PX_BUF - off;
		ssize_t n;

		if (ready < len) {
			len = (size_t)ready;
		}
		n = send(fd, d->buf + off, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return px_again(errno) ? 0 : -1;
		}
		d->out += (uint64_t)n;
		px_mark_pop(d);
	}
	return 0;
}

/* ---- pairs ---- */

/* Starts a nonblocking connect to 127.0.0.1:port.  Returns the socket
 * (*connecting set when the connect is still in flight), or -1 when it
 * failed at once (nothing listens). */
static int
px_dial(int port, int *connecting)
{
	struct sockaddr_in sa;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	px_nodelay(fd);
	px_addr(&sa, port);
	*connecting = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		return fd;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		*connecting = 1;
		return fd;
	}
	close(fd);
	return -1;
}

/* Closes both ends; with rst, as a reset (RST, not FIN).  The pair is freed
 * by px_reap.  Cannot fail. */
static void
px_conn_close(struct px_conn *c, int rst)
{
	struct linger lg = {1, 0};

	for (int s = 0; s < 2; s++) {
		if (c->fd[s] < 0) {
			continue;
		}
		if (rst) {
			(void)setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->fd[s]);
		c->fd[s] = -1;
	}
	c->dead = 1;
}

static void
px_conn_free(struct px_conn *c)
{
	free(c->dir[0].buf);
	free(c->dir[1].buf);
	free(c);
}

/* Makes a pair of the accepted client cfd and a connection to the link's
 * upstream.  On failure (no memory, upstream refuses at once) cfd is closed
 * and NULL returned. */
static struct px_conn *
px_conn_new(const struct px_part *p, int part, int link, int cfd)
{
	struct px_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->dir[0].buf = malloc(PX_BUF)) == NULL ||
	    (c->dir[1].buf = malloc(PX_BUF)) == NULL) {
		fprintf(stderr, "proxy: %s: out of memory, connection dropped\n", p->name);
		goto fail;
	}
	c->part = part;
	c->link = link;
	c->fd[0] = cfd;
	c->fd[1] = px_dial(p->uport[link], &c->connecting);
	if (c->fd[1] < 0) {
		goto fail; /* its end is not running: the client sees a close */
	}
	return c;
fail:
	close(cfd);
	if (c != NULL) {
		px_conn_free(c);
	}
	return NULL;
}

/* Completes end 1's connect.  Returns 0, or -1 when it failed. */
static int
px_conn_connected(struct px_conn *c, short revents)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0) {
		return -1;
	}
	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		return -1;
	}
	c->connecting = 0;
	return 0;
}

/* Accepts one connection on link of participant p (unless its accepts
 * rest) and pairs it.  Failures drop that one connection only. */
static void
px_accept(struct proxy *px, int part, int link, int64_t now)
{
	struct px_part *p = &px->parts[part];
	struct px_conn *c;
	int fd;

	fd = accept4(p->lfd[link], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			fprintf(stderr, "proxy: accept: %s\n", strerror(errno));
			px->accept_after = now + PX_PAUSE_MS;
		}
		return;
	}
	if (px->nconns >= PX_MAXCONN) {
		fprintf(stderr, "proxy: %s: %d connections already, refusing one\n", p->name,
			PX_MAXCONN);
		close(fd);
		return;
	}
	px_nodelay(fd);
	c = px_conn_new(p, part, link, fd);
	if (c != NULL) {
		px->conns[px->nconns++] = c;
	}
}

/* Frees the pairs closed during this pass. */
static void
px_reap(struct proxy *px)
{
	int i = 0;

	while (i < px->nconns) {
		if (px->conns[i]->dead) {
			px_conn_free(px->conns[i]);
			px->conns[i] = px->conns[--px->nconns];
		} else {
			i++;
		}
	}
}

/* ---- the poll set ---- */

static void
px_poll_add(struct proxy *px, int fd, short events, enum px_kind kind, void *p, int i)
{
	int k = px->npoll++;

	/* Nothing asked: a negative fd keeps POLLHUP from spinning the loop. */
	px->pfd[k].fd = events != 0 ? fd : -1;
	px->pfd[k].events = events;
	px->pfd[k].revents = 0;
	px->slot[k] = (struct px_slot){kind, p, i};
}

/* What end s of c waits for. */
static short
px_conn_events(const struct px_conn *c, int s, int64_t now)
{
	short ev = 0;

	if (c->connecting) {
		return s == 1 ? POLLOUT : (c->dir[0].eof || px_room(&c->dir[0]) == 0 ? 0 : POLLIN);
	}
	if (!c->dir[s].eof && px_room(&c->dir[s]) > 0) {
		ev |= POLLIN;
	}
	if (px_ready(&c->dir[1 - s], now) > 0) {
		ev |= POLLOUT;
	}
	return ev;
}

/* Lists what this pass waits for: pairs and listeners of links that are
 * not cut, then the control socket and its clients (handled last). */
static void
px_poll_build(struct proxy *px, int64_t now)
{
	px->npoll = 0;
	for (int i = 0; i < px->nconns; i++) {
		struct px_conn *c = px->conns[i];

		if (c->dead || px->parts[c->part].cut) {
			continue;
		}
		for (int s = 0; s < 2; s++) {
			px_poll_add(px, c->fd[s], px_conn_events(c, s, now), PK_CONN, c, s);
		}
	}
	for (int i = 0; i < px->nparts && now >= px->accept_after; i++) {
		for (int l = 0; l < 2 && !px->parts[i].cut; l++) {
			px_poll_add(px, px->parts[i].lfd[l], POLLIN, PK_LISTEN, &px->parts[i], l);
		}
	}
	if (now >= px->accept_after) {
		px_poll_add(px, px->ctl_fd, POLLIN, PK_CTL_LISTEN, NULL, 0);
	}
	for (int i = 0; i < PX_MAXCTL; i++) {
		if (px->ctls[i].fd >= 0) {
			px_poll_add(px, px->ctls[i].fd, POLLIN, PK_CTL, &px->ctls[i], 0);
		}
	}
}

/* How long poll() may wait: until the next held-back chunk may leave or
 * accepts resume, at most PX_TICK_MS (h_interrupted is checked between). */
static int
px_poll_timeout(const struct proxy *px, int64_t now)
{
	int64_t t = PX_TICK_MS;

	for (int i = 0; i < px->nconns; i++) {
		const struct px_conn *c = px->conns[i];

		if (c->dead || px->parts[c->part].cut) {
			continue;
		}
		for (int s = 0; s < 2; s++) {
			int64_t r = px_next_release(&c->dir[s], now);

			if (r > 0 && r - now < t) {
				t = r - now;
			}
		}
	}
	if (px->accept_after > now && px->accept_after - now < t) {
		t = px->accept_after - now;
	}
	return t < 1 ? 1 : (int)t;
}

/* Handles what poll() said of end s of c.  An error closes the pair. */
static void
px_conn_event(struct proxy *px, struct px_conn *c, int s, const struct pollfd *pfd, int64_t now)
{
	const struct px_part *p = &px->parts[c->part];
	short rev = pfd->revents;

	if (c->dead || p->cut || rev == 0) {
		return; /* a command of this pass may have frozen or reset it */
	}
	if (c->connecting && s == 1) {
		if (px_conn_connected(c, rev) != 0) {
			px_conn_close(c, 0);
		}
		return;
	}
	if ((rev & POLLNVAL) ||
	    ((pfd->events & POLLIN) && (rev & (POLLIN | POLLHUP | POLLERR)) &&
	     px_read(&c->dir[s], c->fd[s], p->slow_ms, now) != 0) ||
	    ((pfd->events & POLLOUT) && (rev & (POLLOUT | POLLHUP | POLLERR)) &&
	     px_write(&c->dir[1 - s], c->fd[s], now) != 0)) {
		px_conn_close(c, 0);
	}
}

/* Moves what may move on every pair of a link not cut (fresh reads, chunks
 * whose time came) and closes the pairs one end of which closed and was
 * flushed; a client that leaves while its connect is in flight, having sent
 * nothing, does not wait for the connect.  A failed send closes the pair. */
static void
px_pump(struct proxy *px, int64_t now)
{
	for (int i = 0; i < px->nconns; i++) {
		struct px_conn *c = px->conns[i];

		if (c->dead || px->parts[c->part].cut) {
			continue;
		}
		if (!c->connecting && (px_write(&c->dir[0], c->fd[1], now) != 0 ||
				       px_write(&c->dir[1], c->fd[0], now) != 0)) {
			px_conn_close(c, 0);
			continue;
		}
		for (int s = 0; s < 2; s++) {
			if (!c->dead && c->dir[s].eof && c->dir[s].in == c->dir[s].out) {
				px_conn_close(c, 0);
			}
		}
	}
}

/* ---- control ---- */

struct px_cmd {
	const char *name;
	int nargs; /* words after the name */
	const char *usage;
	int (*fn)(struct proxy *px, char **argv, char *reply, size_t n);
};

/* Marks in sel the participants NAME stands for ("all": every one).
 * Returns 0, or -1 with the reply set when NAME is unknown. */
static int
px_select(struct proxy *px, const char *name, int *sel, char *reply, size_t n)
{
	int found = 0;

	for (int i = 0; i < px->nparts; i++) {
		sel[i] = strcmp(name, "all") == 0 || strcmp(name, px->parts[i].name) == 0;
		found |= sel[i];
	}
	if (!found) {
		snprintf(reply, n, "error: unknown participant '%.64s'", name);
		return -1;
	}
	return 0;
}

/* Applies fn(px, part, arg) to the participants argv[1] names. */
static int
px_each(struct proxy *px, char **argv, void (*fn)(struct proxy *, int, int), int arg, char *reply,
	size_t n)
{
	int sel[H_MAX];

	if (px_select(px, argv[1], sel, reply, n) != 0) {
		return -1;
	}
	for (int i = 0; i < px->nparts; i++) {
		if (sel[i]) {
			fn(px, i, arg);
		}
	}
	snprintf(reply, n, "ok");
	return 0;
}

static void
px_release_all(struct proxy *px, int part)
{
	for (int i = 0; i < px->nconns; i++) {
		if (px->conns[i]->part == part) {
			px_mark_release(&px->conns[i]->dir[0]);
			px_mark_release(&px->conns[i]->dir[1]);
		}
	}
}

static void
px_do_cut(struct proxy *px, int part, int arg)
{
	(void)arg;
	px->parts[part].cut = 1;
}

static void
px_do_heal(struct proxy *px, int part, int arg)
{
	(void)arg;
	px->parts[part].cut = 0;
	px->parts[part].slow_ms = 0;
	px_release_all(px, part);
}

static void
px_do_slow(struct proxy *px, int part, int ms)
{
	px->parts[part].slow_ms = ms;
	if (ms == 0) {
		px_release_all(px, part);
	}
}

static void
px_do_reset(struct proxy *px, int part, int arg)
{
	(void)arg;
	for (int i = 0; i < px->nconns; i++) {
		if (px->conns[i]->part == part && !px->conns[i]->dead) {
			px_conn_close(px->conns[i], 1);
		}
	}
}

static int
px_cmd_cut(struct proxy *px, char **argv, char *reply, size_t n)
{
	return px_each(px, argv, px_do_cut, 0, reply, n);
}

static int
px_cmd_heal(struct proxy *px, char **argv, char *reply, size_t n)
{
	return px_each(px, argv, px_do_heal, 0, reply, n);
}

static int
px_cmd_reset(struct proxy *px, char **argv, char *reply, size_t n)
{
	return px_each(px, argv, px_do_reset, 0, reply, n);
}

static int
px_cmd_slow(struct proxy *px, char **argv, char *reply, size_t n)
{
	char *end;
	long ms;

	errno = 0;
	ms = strtol(argv[2], &end, 10);
	if (errno != 0 || end == argv[2] || *end != '\0' || ms < 0 || ms > PX_SLOW_MAX) {
		snprintf(reply, n, "error: bad delay '%.32s': milliseconds, 0 to %d", argv[2],
			 PX_SLOW_MAX);
		return -1;
	}
	return px_each(px, argv, px_do_slow, (int)ms, reply, n);
}

/* NAME=ok|cut|slow:MS conns=N for every participant, on one line. */
static int
px_cmd_status(struct proxy *px, char **argv, char *reply, size_t n)
{
	size_t len = 0;

	(void)argv;
	reply[0] = '\0';
	for (int i = 0; i < px->nparts && len < n; i++) {
		const struct px_part *p = &px->parts[i];
		char state[32];
		int conns = 0;

		for (int k = 0; k < px->nconns; k++) {
			conns += px->conns[k]->part == i && !px->conns[k]->dead;
		}
		if (p->cut) {
			snprintf(state, sizeof(state), "cut");
		} else if (p->slow_ms > 0) {
			snprintf(state, sizeof(state), "slow:%d", p->slow_ms);
		} else {
			snprintf(state, sizeof(state), "ok");
		}
		len += (size_t)snprintf(reply + len, n - len, "%s%s=%s conns=%d", i > 0 ? " " : "",
					p->name, state, conns);
	}
	return 0;
}

static int
px_cmd_quit(struct proxy *px, char **argv, char *reply, size_t n)
{
	(void)argv;
	px->quit = 1;
	snprintf(reply, n, "ok");
	return 0;
}

static const struct px_cmd px_cmds[] = {
    {.name = "cut", .nargs = 1, .usage = "cut NAME", .fn = px_cmd_cut},
    {.name = "heal", .nargs = 1, .usage = "heal NAME|all", .fn = px_cmd_heal},
    {.name = "slow", .nargs = 2, .usage = "slow NAME MS", .fn = px_cmd_slow},
    {.name = "reset", .nargs = 1, .usage = "reset NAME", .fn = px_cmd_reset},
    {.name = "status", .nargs = 0, .usage = "status", .fn = px_cmd_status},
    {.name = "quit", .nargs = 0, .usage = "quit", .fn = px_cmd_quit},
};

/* Runs one command line; the reply (without newline) goes to reply. */
static void
px_command(struct proxy *px, char *line, char *reply, size_t n)
{
	char *argv[4], *save = NULL;
	int argc = 0;
	char *w;

	for (w = strtok_r(line, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		if (argc == 4) {
			break;
		}
		argv[argc++] = w;
	}
	if (argc == 0) {
		snprintf(reply, n, "error: empty command");
		return;
	}
	for (size_t k = 0; k < sizeof(px_cmds) / sizeof(px_cmds[0]); k++) {
		if (strcmp(argv[0], px_cmds[k].name) != 0) {
			continue;
		}
		if (argc != px_cmds[k].nargs + 1) {
			snprintf(reply, n, "error: usage: %s", px_cmds[k].usage);
			return;
		}
		px_cmds[k].fn(px, argv, reply, n);
		return;
	}
	snprintf(reply, n, "error: unknown command '%.32s' (cut, heal, slow, reset, status, quit)",
		 argv[0]);
}

static void
px_ctl_close(struct px_ctl *k)
{
	close(k->fd);
	k->fd = -1;
	k->n = 0;
}

/* Sends one reply line.  A reply is far smaller than a socket buffer; a
 * client that does not take it whole is closed. */
static void
px_ctl_reply(struct px_ctl *k, const char *reply)
{
	char buf[PX_REPLY + 1];
	int len = snprintf(buf, sizeof(buf), "%s\n", reply);

	if (len < 0 || (size_t)len >= sizeof(buf)) {
		len = (int)sizeof(buf) - 1;
		buf[len - 1] = '\n';
	}
	if (send(k->fd, buf, (size_t)len, MSG_NOSIGNAL) != len) {
		px_ctl_close(k);
	}
}

/* Runs one line of k, logs it, and replies.  The reply goes out only
 * after the command took effect.  Bytes no command has (control
 * characters, NUL, non-ASCII) become '?', so neither log nor reply carries them. */
static void
px_ctl_line(struct proxy *px, struct px_ctl *k, char *line, size_t len)
{
	char shown[PX_LINE], reply[PX_REPLY];
	size_t i;

	for (i = 0; i < len; i++) {
		if (line[i] == '\t' || line[i] == '\r') {
			line[i] = ' ';
		} else if (line[i] < 0x20 || line[i] >= 0x7f) {
			line[i] = '?';
		}
	}
	while (i > 0 && line[i - 1] == ' ') {
		line[--i] = '\0';
	}
	snprintf(shown, sizeof(shown), "%s", line);
	px_command(px, line, reply, sizeof(reply));
	if (strncmp(reply, "error: ", 7) == 0) {
		fprintf(stderr, "proxy: %s: %s\n", shown, reply + 7);
	} else {
		fprintf(stderr, "proxy: %s\n", shown);
	}
	px_ctl_reply(k, reply);
}

/* Reads from control client k and runs its complete lines.  End of
 * stream, an error or a line too long closes it. */
static void
px_ctl_read(struct proxy *px, struct px_ctl *k)
{
	ssize_t r;
	char *nl;

	r = recv(k->fd, k->line + k->n, sizeof(k->line) - k->n, 0);
	if (r < 0 && px_again(errno)) {
		return;
	}
	if (r <= 0) {
		px_ctl_close(k);
		return;
	}
	k->n += (size_t)r;
	while (!px->quit && (nl = memchr(k->line, '\n', k->n)) != NULL) {
		size_t len = (size_t)(nl - k->line) + 1;

		*nl = '\0';
		px_ctl_line(px, k, k->line, len - 1);
		if (k->fd < 0) {
			return; /* the reply could not be sent: k was closed */
		}
		k->n -= len;
		memmove(k->line, k->line + len, k->n);
	}
	if (k->n == sizeof(k->line)) {
		px_ctl_reply(k, "error: line too long");
		if (k->fd >= 0) {
			px_ctl_close(k);
		}
	}
}

/* Accepts a control client into a free slot; without one it is closed. */
static void
px_ctl_accept(struct proxy *px, int64_t now)
{
	int fd = accept4(px->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			px->accept_after = now + PX_PAUSE_MS;
		}
		return;
	}
	for (int i = 0; i < PX_MAXCTL; i++) {
		if (px->ctls[i].fd < 0) {
			px->ctls[i].fd = fd;
			px->ctls[i].n = 0;
			return;
		}
	}
	fprintf(stderr, "proxy: %d control clients already, refusing one\n", PX_MAXCTL);
	close(fd);
}

/* ---- setup, loop, teardown ---- */

/* Opens a listener on 127.0.0.1:port.  Returns it, or -1 with a message
 * on stderr. */
static int
px_listen_tcp(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1, e;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		px_addr(&sa, port);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    listen(fd, PX_BACKLOG) == 0) {
			return fd;
		}
	}
	e = errno;
	fprintf(stderr, "xact-harness proxy: cannot listen on 127.0.0.1:%d: %s\n", port,
		strerror(e));
	if (fd >= 0) {
		close(fd);
	}
	return -1;
}

/* Listens on DIR/proxy.sock, replacing a stale socket but not one a live
 * proxy answers on.  Returns 0, or -1 with a message on stderr. */
static int
px_listen_ctl(struct proxy *px, const char *dir)
{
	struct sockaddr_un sa;
	char err[H_PATH + 128];
	int fd;

	if (px_sock_path(dir, &sa, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness proxy: %s\n", err);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)) {
		fprintf(stderr, "xact-harness proxy: a proxy already answers on %s\n", sa.sun_path);
		close(fd);
		return -1;
	}
	if (fd >= 0) {
		close(fd);
	}
	(void)unlink(sa.sun_path); /* stale: nothing answers on it */
	px->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (px->ctl_fd < 0 || bind(px->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "xact-harness proxy: cannot listen on %s: %s\n", sa.sun_path,
			strerror(errno));
		return -1;
	}
	snprintf(px->ctl_path, sizeof(px->ctl_path), "%s", sa.sun_path);
	if (listen(px->ctl_fd, PX_MAXCTL) != 0) {
		fprintf(stderr, "xact-harness proxy: cannot listen on %s: %s\n", sa.sun_path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int
px_port_ok(int port)
{
	return port > 0 && port <= 65535;
}

/* Fills participant i's links from the scenario and opens its listeners.
 * Returns 0, or -1 with a message on stderr. */
static int
px_open_part(struct proxy *px, const struct scenario *sc, int i)
{
	struct px_part *p = &px->parts[i];

	p->name = sc->parts[i].name;
	p->uport[0] = sc->parts[i].port;
	p->uport[1] = sc->coord.port;
	for (int l = 0; l < 2; l++) {
		p->lport[l] = sc_proxy_port(sc, i, l);
		if (!px_port_ok(p->lport[l]) || !px_port_ok(p->uport[l])) {
			fprintf(stderr, "xact-harness proxy: %s: no valid ports (%d -> %d)\n",
				p->name, p->lport[l], p->uport[l]);
			return -1;
		}
		p->lfd[l] = px_listen_tcp(p->lport[l]);
		if (p->lfd[l] < 0) {
			return -1;
		}
	}
	fprintf(stderr,
		"proxy: %s: 127.0.0.1:%d -> %d (coordinator->%s), 127.0.0.1:%d -> %d "
		"(%s->coordinator)\n",
		p->name, p->lport[0], p->uport[0], p->name, p->lport[1], p->uport[1], p->name);
	return 0;
}

/* Opens every listener.  Returns 0, or -1 with a message on stderr (what
 * was opened is closed by px_close_all). */
static int
px_open(struct proxy *px, const struct scenario *sc)
{
	if (sc->nparts < 0 || sc->nparts > H_MAX) {
		fprintf(stderr, "xact-harness proxy: bad participant count %d\n", sc->nparts);
		return -1;
	}
	/* The control socket first: a second proxy of the folder stops here. */
	if (px_listen_ctl(px, sc->dir) != 0) {
		return -1;
	}
	px->nparts = sc->nparts;
	for (int i = 0; i < px->nparts; i++) {
		if (px_open_part(px, sc, i) != 0) {
			return -1;
		}
	}
	return 0;
}

static void
px_init(struct proxy *px)
{
	px->ctl_fd = -1;
	for (int i = 0; i < H_MAX; i++) {
		px->parts[i].lfd[0] = px->parts[i].lfd[1] = -1;
	}
	for (int i = 0; i < PX_MAXCTL; i++) {
		px->ctls[i].fd = -1;
	}
}

/* Closes every socket and removes DIR/proxy.sock if it is ours. */
static void
px_close_all(struct proxy *px)
{
	for (int i = 0; i < px->nconns; i++) {
		px_conn_close(px->conns[i], 0);
	}
	px_reap(px);
	for (int i = 0; i < H_MAX; i++) {
		for (int l = 0; l < 2; l++) {
			if (px->parts[i].lfd[l] >= 0) {
				close(px->parts[i].lfd[l]);
			}
		}
	}
	for (int i = 0; i < PX_MAXCTL; i++) {
		if (px->ctls[i].fd >= 0) {
			px_ctl_close(&px->ctls[i]);
		}
	}
	if (px->ctl_fd >= 0) {
		close(px->ctl_fd);
	}
	if (px->ctl_path[0] != '\0') {
		(void)unlink(px->ctl_path);
	}
}

/* Handles one pass's poll() results, control clients last. */
static void
px_dispatch(struct proxy *px, int64_t now)
{
	for (int k = 0; k < px->npoll && !px->quit; k++) {
		struct px_slot *s = &px->slot[k];
		struct pollfd *pfd = &px->pfd[k];

		if (pfd->revents == 0) {
			continue;
		}
		switch (s->kind) {
		case PK_CONN:
			px_conn_event(px, s->p, s->i, pfd, now);
			break;
		case PK_LISTEN:
			if (!((struct px_part *)s->p)->cut) {
				px_accept(px, (int)((struct px_part *)s->p - px->parts), s->i, now);
			}
			break;
		case PK_CTL_LISTEN:
			px_ctl_accept(px, now);
			break;
		case PK_CTL:
			if (((struct px_ctl *)s->p)->fd >= 0) {
				px_ctl_read(px, s->p);
			}
			break;
		}
	}
}

/* Runs until quit or a signal.  Returns 0, or -1 when poll() fails. */
static int
px_loop(struct proxy *px)
{
	while (!px->quit && !h_interrupted) {
		int64_t now = px_now();

		px_poll_build(px, now);
		if (poll(px->pfd, (nfds_t)px->npoll, px_poll_timeout(px, now)) < 0) {
			if (errno == EINTR) {
				continue;
			}
			fprintf(stderr, "xact-harness proxy: poll: %s\n", strerror(errno));
			return -1;
		}
		now = px_now();
		px_dispatch(px, now);
		px_pump(px, now);
		px_reap(px);
	}
	return 0;
}

int
proxy_main(const struct scenario *sc)
{
	struct px_sigs old;
	struct proxy *px;
	int rc;

	if (sc == NULL) {
		fprintf(stderr, "xact-harness proxy: no scenario\n");
		return -1;
	}
	px = calloc(1, sizeof(*px));
	if (px == NULL) {
		fprintf(stderr, "xact-harness proxy: out of memory\n");
		return -1;
	}
	px_init(px);
	px_signals(&old);
	rc = px_open(px, sc);
	if (rc == 0) {
		fprintf(stderr, "proxy: ready on %s\n", px->ctl_path);
		rc = px_loop(px);
	}
	px_close_all(px);
	px_signals_restore(&old);
	free(px);
	if (rc == 0) {
		fprintf(stderr, "proxy: stopped\n");
	}
	return rc;
}

/* ---- the client side: proxy_command ---- */

/* Sends all of buf within the socket's send timeout.  Returns 0 or -1. */
static int
px_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one reply line (newline stripped) within PX_REPLY_MS.  Returns 0,
 * or -1 with err. */
static int
px_recv_line(int fd, const char *dir, char *line, size_t n, char *err, size_t errlen)
{
	int64_t deadline = px_now() + PX_REPLY_MS;
	size_t len = 0;
	char *nl;

	while ((nl = memchr(line, '\n', len)) == NULL) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int64_t left = deadline - px_now();
		ssize_t r;

		if (len + 1 >= n) {
			snprintf(err, errlen, "the proxy in %s sent a reply too long", dir);
			return -1;
		}
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			snprintf(err, errlen, "the proxy in %s did not answer within %d ms", dir,
				 PX_REPLY_MS);
			return -1;
		}
		r = recv(fd, line + len, n - 1 - len, MSG_DONTWAIT);
		if (r < 0 && px_again(errno)) {
			continue;
		}
		if (r <= 0) {
			snprintf(err, errlen, "the proxy in %s closed without a reply%s%s", dir,
				 r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
			return -1;
		}
		len += (size_t)r;
	}
	*nl = '\0';
	return 0;
}

/* Refuses what the proxy could not take as one command line. */
static int
px_check_cmd(const char *cmd, char *err, size_t errlen)
{
	if (cmd == NULL || cmd[strspn(cmd, " \t")] == '\0') {
		snprintf(err, errlen, "empty proxy command");
		return -1;
	}
	if (strpbrk(cmd, "\r\n") != NULL) {
		snprintf(err, errlen, "a proxy command is a single line");
		return -1;
	}
	if (strlen(cmd) + 1 >= PX_LINE) {
		snprintf(err, errlen, "proxy command too long (%zu bytes)", strlen(cmd));
		return -1;
	}
	return 0;
}

/* Judges the reply to cmd: "error: ..." fails with that message; status
 * prints its line; anything else must be "ok". */
static int
px_judge(const char *dir, const char *cmd, const char *reply, char *err, size_t errlen)
{
	size_t w = strspn(cmd, " \t");

	if (strncmp(reply, "error: ", 7) == 0) {
		snprintf(err, errlen, "proxy: %s", reply + 7);
		return -1;
	}
	/* strchr() also finds the terminating '\0': "status" alone matches. */
	if (strncmp(cmd + w, "status", 6) == 0 && strchr(" \t", cmd[w + 6]) != NULL) {
		printf("%s\n", reply);
		fflush(stdout);
		return 0;
	}
	if (strncmp(reply, "ok", 2) == 0) {
		return 0;
	}
	snprintf(err, errlen, "unexpected reply from the proxy in %s: '%.200s'", dir, reply);
	return -1;
}

int
proxy_command(const char *dir, const char *cmd, char *err, size_t errlen)
{
	struct timeval tv = {PX_REPLY_MS / 1000, (PX_REPLY_MS % 1000) * 1000};
	struct sockaddr_un sa;
	char line[PX_LINE + 1], reply[PX_REPLY + 1];
	int fd, rc = -1;

	if (dir == NULL) {
		snprintf(err, errlen, "no state folder given for the proxy");
		return -1;
	}
	if (px_check_cmd(cmd, err, errlen) != 0 || px_sock_path(dir, &sa, err, errlen) != 0) {
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(line, sizeof(line), "%s\n", cmd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "no proxy running in %s: %s", dir, strerror(errno));
	} else if (px_send_all(fd, line, strlen(line)) != 0) {
		snprintf(err, errlen, "cannot send to the proxy in %s: %s", dir, strerror(errno));
	} else if (px_recv_line(fd, dir, reply, sizeof(reply), err, errlen) == 0) {
		rc = px_judge(dir, cmd, reply, err, errlen);
	}
	close(fd);
	return rc;
}
