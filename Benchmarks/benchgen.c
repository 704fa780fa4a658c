/* benchgen: the traffic `make bench` measures that iperf3 does not make (Benchmarks/bench.py runs it).
 *
 *   benchgen churn SECONDS THREADS PORT DESTS BYTES
 *       THREADS client threads open short TCP connections to 127.0.0.1..127.0.0.DESTS:PORT for SECONDS,
 *       each: connect, write BYTES, half-close, read the BYTES reply to EOF, close; THREADS server
 *       threads in the same process accept, read, reply, close. Several loopback destinations spread the
 *       4-tuples so that TIME_WAIT does not run the ephemeral ports out.
 *       Prints {"connections", "errors", "seconds", "per_second"}.
 *   benchgen udp SECONDS SIZE PORT
 *       One thread sends SIZE-byte datagrams with sendto() on an unconnected socket to 127.0.0.1:PORT as
 *       fast as it can for SECONDS; another receives them with recvfrom(). Prints {"sent", "received",
 *       "seconds", "sent_per_second", "received_per_second"}.
 *   benchgen idle CONNECTIONS
 *       Opens CONNECTIONS loopback TCP connections and holds them, in shards of 15,000 (the open-file hard
 *       limit cannot always be raised): each shard is a process connecting from 127.0.1.(shard+1) to its
 *       own listener (explicit source ports 10000-24999) and a child that accepts and holds the other ends. Prints {"event":"ready",...}, then obeys stdin: "poke" sends one byte each way on every
 *       connection (so that a tracer attached after they opened sees them) and prints {"event":"poked"};
 *       EOF ends it (every shard dies with it).
 *
 * PORT 0 picks a free port. Every mode is bounded: alarm() ends the process after its time plus a margin
 * (idle: 600 s). Exit status: 0 done, 1 a call failed, 64 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "benchgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: benchgen churn SECONDS THREADS PORT DESTS BYTES | udp SECONDS SIZE PORT | idle CONNECTIONS\n");
	exit(64);
}

static long arg(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end != 0 || v < lo || v > hi)
		usage();
	return v;
}

static struct sockaddr_in loopback(int last_octet_index, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(0x7f000001 + last_octet_index);
	return a;
}

/* A TCP listener on 0.0.0.0:port (port 0: any); returns the fd and writes the port chosen. */
static int listen_tcp(int port, int backlog, int *bound)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(a);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, backlog))
		die("bind/listen");
	getsockname(fd, (struct sockaddr *)&a, &len);
	*bound = ntohs(a.sin_port);
	return fd;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int write_all(int fd, const char *buf, int n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w <= 0)
			return -1;
		buf += w;
		n -= w;
	}
	return 0;
}

/* Reads until EOF; returns the byte count or -1. */
static long read_to_eof(int fd)
{
	char buf[4096];
	long total = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0)
			return total;
		if (r < 0)
			return -1;
		total += r;
	}
}

/* ---- churn ---- */

static struct {
	int listener, port, dests, bytes;
	double end;
	atomic_int stop;
	atomic_long connections, errors;
} churn;

static void *churn_server(void *unused)
{
	char buf[65536];
	(void)unused;
	while (!atomic_load(&churn.stop)) {
		int fd = accept(churn.listener, NULL, NULL);
		if (fd < 0)
			continue; /* timeout (SO_RCVTIMEO) or shutdown: look at stop again */
		set_timeout(fd, 1000);
		int got = 0;
		while (got < churn.bytes) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				break;
			got += r;
		}
		write_all(fd, buf, got);
		close(fd);
	}
	return NULL;
}

static void *churn_client(void *index)
{
	static const char payload[65536];
	long i = (long)index;
	while (now_s() < churn.end) {
		struct sockaddr_in dst = loopback(i++ % churn.dests, churn.port);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			atomic_fetch_add(&churn.errors, 1);
			continue;
		}
		set_timeout(fd, 1000);
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) || write_all(fd, payload, churn.bytes) ||
		    shutdown(fd, SHUT_WR) || read_to_eof(fd) != churn.bytes)
			atomic_fetch_add(&churn.errors, 1);
		else if (now_s() < churn.end)
			atomic_fetch_add(&churn.connections, 1);
		close(fd);
	}
	return NULL;
}

static int run_churn(int argc, char **argv)
{
	if (argc != 7)
		usage();
	double seconds = arg(argv[2], 1, 60);
	int threads = arg(argv[3], 1, 64);
	churn.dests = arg(argv[5], 1, 250);
	churn.bytes = arg(argv[6], 1, 65536);
	alarm(seconds + 30);
	churn.listener = listen_tcp(arg(argv[4], 0, 65535), 4096, &churn.port);
	set_timeout(churn.listener, 200);
	pthread_t srv[64], cli[64];
	for (int i = 0; i < threads; i++)
		pthread_create(&srv[i], NULL, churn_server, NULL);
	double start = now_s();
	churn.end = start + seconds;
	for (long i = 0; i < threads; i++)
		pthread_create(&cli[i], NULL, churn_client, (void *)(i * 7));
	for (int i = 0; i < threads; i++)
		pthread_join(cli[i], NULL);
	atomic_store(&churn.stop, 1);
	shutdown(churn.listener, SHUT_RDWR);
	for (int i = 0; i < threads; i++)
		pthread_join(srv[i], NULL);
	long n = atomic_load(&churn.connections);
	printf("{\"connections\": %ld, \"errors\": %ld, \"seconds\": %.3f, \"per_second\": %.1f}\n", n,
	       atomic_load(&churn.errors), seconds, n / seconds);
	return 0;
}

/* ---- udp ---- */

static struct {
	int rx;
	atomic_int stop;
	long received;
} udp;

static void *udp_receiver(void *unused)
{
	char buf[65536];
	struct sockaddr_in from;
	(void)unused;
	while (!atomic_load(&udp.stop)) {
		socklen_t len = sizeof(from);
		if (recvfrom(udp.rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) > 0)
			udp.received++;
	}
	return NULL;
}

static int run_udp(int argc, char **argv)
{
	if (argc != 5)
		usage();
	double seconds = arg(argv[2], 1, 60);
	int size = arg(argv[3], 1, 65507);
	int port = arg(argv[4], 0, 65535);
	int rcvbuf = 4 << 20;
	char *payload = calloc(1, size);
	alarm(seconds + 30);

	udp.rx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = loopback(0, port);
	socklen_t len = sizeof(a);
	if (udp.rx < 0 || bind(udp.rx, (struct sockaddr *)&a, sizeof(a)))
		die("udp bind");
	getsockname(udp.rx, (struct sockaddr *)&a, &len);
	setsockopt(udp.rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	set_timeout(udp.rx, 100);
	int tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (tx < 0)
		die("udp socket");

	pthread_t rx;
	pthread_create(&rx, NULL, udp_receiver, NULL);
	long sent = 0;
	double end = now_s() + seconds;
	while (now_s() < end) {
		/* The clock is read every 64 datagrams: a clock read per datagram would be a fair share of it. */
		for (int i = 0; i < 64; i++)
			if (sendto(tx, payload, size, 0, (struct sockaddr *)&a, sizeof(a)) == size)
				sent++;
	}
	usleep(100 * 1000); /* let the receiver drain its queue */
	atomic_store(&udp.stop, 1);
	pthread_join(rx, NULL);
	printf("{\"sent\": %ld, \"received\": %ld, \"seconds\": %.3f, \"sent_per_second\": %.1f, "
	       "\"received_per_second\": %.1f}\n", sent, udp.received, seconds, sent / seconds, udp.received / seconds);
	return 0;
}

/* ---- idle ---- */

/* The child: accepts n connections, tells the parent, then echoes whatever arrives until each closes. */
static void idle_server(int listener, int n, int ready_fd)
{
	int ep = epoll_create1(0), open = 0;
	struct epoll_event ev = { .events = EPOLLIN }, evs[1024];
	char buf[256];
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	for (int i = 0; i < n; i++) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			die("accept");
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			die("epoll_ctl");
		open++;
	}
	close(listener);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	while (open > 0) {
		int k = epoll_wait(ep, evs, 1024, -1);
		for (int i = 0; i < k; i++) {
			ssize_t r = read(evs[i].data.fd, buf, sizeof(buf));
			if (r > 0) {
				write_all(evs[i].data.fd, buf, r);
			} else if (r == 0 || errno != EAGAIN) {
				close(evs[i].data.fd);
				open--;
			}
		}
	}
	_exit(0);
}

/* The connections' source ports: IDLE_FIRST_PORT and up, one shard's IDLE_SHARD ports per address. */
#define IDLE_FIRST_PORT 10000
#define IDLE_SHARD 15000

/* One shard: n connections from 127.0.1.(shard + 1) to its own listener, held by this process and its
 * accepting child; commands come in on `in`, answers go out on `out` (one line each). */
static void idle_shard(int n, int shard, int in, int out)
{
	int bound, pipefd[2], one = 1;
	char c;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int listener = listen_tcp(0, n, &bound); /* all of them: see the note at run_idle */
	if (pipe(pipefd))
		die("pipe");
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(pipefd[0]);
		idle_server(listener, n, pipefd[1]);
	}
	close(listener);
	close(pipefd[1]);

	int *fds = malloc(sizeof(int) * n);
	struct sockaddr_in dst = loopback(0, bound);
	struct sockaddr_in src = { .sin_family = AF_INET };
	src.sin_addr.s_addr = htonl(0x7f000100 + 1 + shard); /* 127.0.1.1, 127.0.1.2, ... */
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		/* Explicit source ports, below the ephemeral range where the listeners are: letting connect()
		 * choose costs a scan of the used ports per connection, quadratic in the connections. */
		src.sin_port = htons(IDLE_FIRST_PORT + i);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) || connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
			fprintf(stderr, "benchgen: shard %d, connection %d of %d: %s\n", shard, i + 1, n, strerror(errno));
			kill(child, SIGKILL);
			_exit(1);
		}
		fds[i] = fd;
	}
	if (read(pipefd[0], &c, 1) != 1) {
		fprintf(stderr, "benchgen: shard %d: the accepting child died\n", shard);
		_exit(1);
	}
	dprintf(out, "ready %d\n", n);
	while (read(in, &c, 1) == 1) {
		if (c != 'p')
			continue;
		int ok = 0;
		for (int i = 0; i < n; i++)
			if (write(fds[i], "p", 1) == 1)
				ok++;
		for (int i = 0; i < n; i++)
			if (read(fds[i], &c, 1) != 1)
				ok--;
		dprintf(out, "poked %d\n", ok);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	_exit(0);
}

/* Reads one "WORD COUNT" line from each shard; returns the sum of the counts, -1 if one failed. */
static long gather(FILE **from, int shards)
{
	long total = 0;
	char line[64];
	for (int s = 0; s < shards; s++) {
		if (!fgets(line, sizeof(line), from[s]))
			return -1;
		total += strtol(strchr(line, ' ') ? strchr(line, ' ') + 1 : line, NULL, 10);
	}
	return total;
}

/* The file-descriptor hard limit may not be raisable (no CAP_SYS_RESOURCE in a container), so the
 * connections are spread over shards of IDLE_SHARD each, every shard two processes. Run it in a network
 * namespace of its own with net.core.somaxconn >= IDLE_SHARD (bench.py does): the explicit source ports
 * then collide with nothing, and no SYN waits a second for room in an accept queue. */
static int run_idle(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		usage();
	int n = arg(argv[2], 1, 1000000);
	int shards = (n + IDLE_SHARD - 1) / IDLE_SHARD;
	FILE *from[128];
	int to[128];
	struct rlimit lim;
	alarm(600);
	getrlimit(RLIMIT_NOFILE, &lim);
	if (lim.rlim_max < IDLE_SHARD + 64) {
		fprintf(stderr, "benchgen: the open-file hard limit (%ld) is below %d\n", (long)lim.rlim_max, IDLE_SHARD + 64);
		return 1;
	}
	lim.rlim_cur = lim.rlim_max;
	setrlimit(RLIMIT_NOFILE, &lim);
	if (shards > 128)
		usage();

	double start = now_s();
	for (int s = 0; s < shards; s++) {
		int cmd[2], ans[2];
		int count = s == shards - 1 ? n - s * IDLE_SHARD : IDLE_SHARD;
		if (pipe(cmd) || pipe(ans))
			die("pipe");
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(cmd[1]);
			close(ans[0]);
			for (int k = 0; k < s; k++) {
				close(to[k]);
				fclose(from[k]);
			}
			idle_shard(count, s, cmd[0], ans[1]);
		}
		close(cmd[0]);
		close(ans[1]);
		to[s] = cmd[1];
		from[s] = fdopen(ans[0], "r");
	}
	long ready = gather(from, shards);
	if (ready != n) {
		fprintf(stderr, "benchgen: only %ld of %d connections opened\n", ready, n);
		return 1;
	}
	printf("{\"event\": \"ready\", \"connections\": %d, \"shards\": %d, \"seconds\": %.3f}\n", n, shards,
	       now_s() - start);
	fflush(stdout);

	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "poke", 4) != 0)
			continue;
		double t = now_s();
		for (int s = 0; s < shards; s++)
			if (write(to[s], "p", 1) != 1)
				die("write to shard");
		long ok = gather(from, shards);
		printf("{\"event\": \"poked\", \"connections\": %ld, \"seconds\": %.3f}\n", ok, now_s() - t);
		fflush(stdout);
	}
	for (int s = 0; s < shards; s++)
		close(to[s]);
	while (wait(NULL) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "churn"))
		return run_churn(argc, argv);
	if (!strcmp(argv[1], "udp"))
		return run_udp(argc, argv);
	if (!strcmp(argv[1], "idle"))
		return run_idle(argc, argv);
	usage();
	return 64;
}
