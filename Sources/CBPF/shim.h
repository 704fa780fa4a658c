/* CBPF: the thin C layer between TracerCore/Kernel and libbpf. Swift cannot import libbpf's option macros
 * (LIBBPF_OPTS) or walk BTF comfortably, so each wrapper here exists for one such reason, named nt_*. */
#ifndef NETTOP_CBPF_SHIM_H
#define NETTOP_CBPF_SHIM_H

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "../../bpf/nettop.h"
#include "../../bpf/offset_guess.h"

/* A libbpf message formatted whole, however long (a verifier log runs to megabytes; Swift cannot va_copy
 * to measure it first). malloc'd, to be freed; NULL on failure. */
static inline char *nt_vformat(const char *format, va_list args)
{
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(NULL, 0, format, copy);
	va_end(copy);
	if (n < 0)
		return NULL;
	char *text = malloc((size_t)n + 1);
	if (text)
		vsnprintf(text, (size_t)n + 1, format, args);
	return text;
}

/* Opens an object from memory under a stable name. LIBBPF_OPTS is a macro. NULL + errno on failure. */
static inline struct bpf_object *nt_open_mem(const void *buf, size_t size, const char *name, const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .btf_custom_path = btf_path);
	return bpf_object__open_mem(buf, size, &opts);
}

/* Pointer to the writable initial value of a global in .rodata (before load), found through the
 * object's BTF. NULL when absent. */
static inline void *nt_rodata_var(struct bpf_object *obj, const char *var_name, size_t *var_size)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const char *name;
	size_t map_size = 0;
	char *data = NULL;
	int id, n, i;

	if (!btf)
		return NULL;
	bpf_object__for_each_map(map, obj) {
		name = bpf_map__name(map);
		if (name && strstr(name, ".rodata")) {
			data = bpf_map__initial_value(map, &map_size);
			break;
		}
	}
	if (!data)
		return NULL;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return NULL;
	const struct btf_type *sec = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
	n = btf_vlen(sec);
	for (i = 0; i < n; i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, var->name_off), var_name) == 0) {
			if (vs->offset + vs->size > map_size)
				return NULL;
			*var_size = vs->size;
			return data + vs->offset;
		}
	}
	return NULL;
}

/* One batch of a hash map dump. LIBBPF_OPTS is a macro. Returns 0, or -errno (-ENOENT: last batch,
 * which may still carry entries in *count). */
static inline int nt_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, __u32 *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
	int err = bpf_map_lookup_batch(fd, in_batch, out_batch, keys, values, count, &opts);
	return err < 0 ? -errno : 0;
}

static inline int nt_delete_batch(int fd, void *keys, __u32 *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
	int err = bpf_map_delete_batch(fd, keys, count, &opts);
	return err < 0 ? -errno : 0;
}

/* The kernel's own limit on a program's verifier log is large; libbpf's default buffer is not. */
static inline int nt_set_log_buf(struct bpf_program *prog, char *buf, size_t size)
{
	int err = bpf_program__set_log_buf(prog, buf, size);
	if (err)
		return err;
	return bpf_program__set_log_level(prog, 1);
}

/* Byte offset of member `member` of struct `type` in the running kernel's BTF, looking through anonymous
 * structs and unions; -1 when the kernel has no BTF, no such struct or no such member. */
static inline long nt_btf_member_offset(const struct btf *btf, const char *type, const char *member)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	if (id < 0)
		return -1;
	/* Depth-first through anonymous members, with a small explicit stack. */
	struct { const struct btf_type *t; long base; int next; } stack[8];
	int depth = 0;
	stack[0].t = btf__type_by_id(btf, id);
	stack[0].base = 0;
	stack[0].next = 0;
	while (depth >= 0) {
		const struct btf_type *t = stack[depth].t;
		if (stack[depth].next >= btf_vlen(t)) {
			depth--;
			continue;
		}
		const struct btf_member *m = btf_members(t) + stack[depth].next++;
		long off = stack[depth].base + (long)(btf_member_bit_offset(t, stack[depth].next - 1) / 8);
		const char *name = btf__name_by_offset(btf, m->name_off);
		if (name && name[0]) {
			if (strcmp(name, member) == 0)
				return off;
			continue;
		}
		const struct btf_type *mt = btf__type_by_id(btf, m->type);
		while (mt && (btf_is_typedef(mt) || btf_is_mod(mt)))
			mt = btf__type_by_id(btf, mt->type);
		if (mt && (btf_is_struct(mt) || btf_is_union(mt)) && depth + 1 < 8) {
			depth++;
			stack[depth].t = mt;
			stack[depth].base = off;
			stack[depth].next = 0;
		}
	}
	return -1;
}

/* Whether this kernel loads and attaches an fentry program: a two-instruction BPF_PROG_TYPE_TRACING
 * program on `func`, attached for an instant and closed. The only honest probe (a kernel can have BTF
 * and trampolines and still refuse, e.g. EPERM under a hypervisor). LIBBPF_OPTS is a macro.
 * Returns 0, or -errno; *stage is 0 (no BTF function `func`), 1 (load) or 2 (attach) on failure. */
static inline int nt_probe_fentry(const char *func, int *stage)
{
	struct bpf_insn insns[2];
	struct btf *vmlinux;
	int id, fd, link;

	*stage = 0;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -ENOENT;
	id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id < 0)
		return -ENOENT;
	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
	insns[1].code = BPF_JMP | BPF_EXIT;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = id);
	*stage = 1;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "nt_probe_fentry", "GPL", insns, 2, &opts);
	if (fd < 0)
		return -errno;
	*stage = 2;
	link = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL);
	if (link < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	close(link);
	close(fd);
	*stage = 0;
	return 0;
}

/* Number of parameters of kernel function `func` in `btf`; -1 when absent. Walking BTF_KIND_FUNC to its
 * FUNC_PROTO needs btf_vlen(), an inline Swift does not see. */
static inline int nt_btf_func_param_count(const struct btf *btf, const char *func)
{
	int id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	if (id < 0)
		return -1;
	const struct btf_type *fn = btf__type_by_id(btf, id);
	const struct btf_type *proto = fn ? btf__type_by_id(btf, fn->type) : NULL;
	return proto ? btf_vlen(proto) : -1;
}

/* Whether typedef `name` exists in `btf` (tp_btf needs btf_trace_<event>). */
static inline int nt_btf_has_typedef(const struct btf *btf, const char *name)
{
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
}

/* Brings up the loopback interface of the calling thread's network namespace (a new namespace starts
 * with it down), for the offset guesser's second namespace. ioctl is variadic, which Swift cannot call;
 * struct ifreq is spelled as bytes (name[16], then flags) to keep <net/if.h> out of the Swift module.
 * 0 or -errno. */
static inline int nt_loopback_up(void)
{
	char ifr[40];
	int err = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof(ifr));
	memcpy(ifr, "lo", 3);
	if (ioctl(fd, 0x8913 /* SIOCGIFFLAGS */, ifr) == 0) {
		*(short *)(ifr + 16) |= 1; /* IFF_UP */
		if (ioctl(fd, 0x8914 /* SIOCSIFFLAGS */, ifr) != 0)
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/* A store no load after it, here or in a BPF program on another CPU, is ordered before: the dirty-tracking
 * epoch (see `epoch` in nettop_common.bpf.h). Swift has no atomics in its standard library here. */
static inline void nt_store_seq_cst(volatile __u64 *p, __u64 value)
{
	__atomic_store_n(p, value, __ATOMIC_SEQ_CST);
}

#endif
