// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side of `cargo xtask bench`: how fast device memory is faulted in
 * and read through each way a driver can map it.
 *
 * Targets:
 *   c-driver     /dev/test_vmf_insert_range (lib/test_vmf_insert_range.c),
 *                whose fault path is switched with VMFIR_IOC_CONFIG between
 *                one vmf_insert_pfn() per fault ("pte"), TTM's 16 PTEs per
 *                fault ("prefault16"), vfio-pci's ->huge_fault with one
 *                aligned PMD/PUD leaf per fault ("huge-fault") and
 *                vmf_insert_range() ("range"), or mapped eagerly in mmap()
 *                with remap_pfn_range() ("remap");
 *   rust-sample  /dev/rust-pfnmap (samples/rust/rust_driver_pfnmap.rs),
 *                vmf_insert_range() through the Rust abstraction ("range");
 *   qxl-bo       a QXL BO mapped through TTM ("range": TTM with the series);
 *   vfio-pci     the whole memory BAR of a free ivshmem device bound to
 *                vfio-pci in no-IOMMU mode, mapped as QEMU maps it, with
 *                mmap(NULL) ("mmap-null"): where the kernel places it and
 *                how it faults it in is what is measured;
 *   devmem       the BAR of an ivshmem device through /dev/mem, which maps
 *                it eagerly with remap_pfn_range() in mmap() ("remap").
 *
 * The targets that upstream has (qxl-bo, vfio-pci, devmem) are there without
 * the series too: `cargo xtask bench --against base` runs this program on
 * both kernels and compares them.
 *
 * For every size, placement, mode and repetition one line is printed:
 *   bench {"target":...,"first_pass_ns":...}
 * with the time of the mmap() call and the page tables (VmPTE) it added,
 * the minor faults (getrusage) and fault handler calls (the C driver's
 * VMFIR_IOC_STATS) of the first pass that touches every page, its time and
 * that of its first page (the first fault), the page tables the first fault
 * and the first pass added, the time of a second pass over
 * the mapped memory, and the time of a fixed number of random 8-byte reads
 * over the mapping.
 *
 * Usage: vmf_insert_range_bench -r REPS -n RANDOM_READS -s SIZE[,SIZE...]
 *	  [-m SIZE[,SIZE...]] [-q SIZE]
 * Sizes are powers of two with a K, M or G suffix. -m lists the sizes also
 * measured at a user address 4 KiB past alignment, -q the QXL BO size.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/qxl_drm.h>
#include <linux/vfio.h>

#include "test_vmf_insert_range_uapi.h"

#define SZ_4K		(4096UL)
#define SZ_2M		(2UL << 20)
#define SZ_1G		(1UL << 30)
#define MAX_SIZES	16

#define C_DRIVER	"/dev/test_vmf_insert_range"
#define RUST_SAMPLE	"/dev/rust-pfnmap"
#define DEVMEM		"/dev/mem"
#define NOIOMMU_PARAM	"/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"
#define IVSHMEM_BAR	2

struct target;

struct mode {
	const char *name;
	enum vmfir_fault_mode vmfir;
};

static const struct mode c_driver_modes[] = {
	{ "pte", VMFIR_MODE_PTE },
	{ "prefault16", VMFIR_MODE_PREFAULT },
	{ "huge-fault", VMFIR_MODE_HUGE_FAULT },
	{ "range", VMFIR_MODE_RANGE },
	{ "remap", VMFIR_MODE_REMAP },
};

static const struct mode range_only[] = {
	{ "range", VMFIR_MODE_RANGE },
};

struct target {
	const char *name;
	int fd;
	const struct mode *modes;
	int nr_modes;
	/* Largest mapping the device can back. */
	size_t capacity;
	/* Whether VMFIR_IOC_CONFIG and VMFIR_IOC_STATS apply. */
	bool vmfir;
	/* QXL: the BO handle; its mappings are placed by the kernel. */
	uint32_t bo;
	/* The file offset mapped, and whether the kernel picks the address. */
	off_t offset;
	bool kernel_placed;
	/* Measured at its capacity only, as a whole. */
	bool whole;
};

struct options {
	int reps;
	unsigned long random_reads;
	size_t sizes[MAX_SIZES];
	int nr_sizes;
	size_t misaligned[MAX_SIZES];
	int nr_misaligned;
	size_t qxl_size;
};

/* 4 GiB of address space, PROT_NONE, to place mappings at 1 GiB alignment. */
static char *reserve;
static const size_t reserve_size = 4 * SZ_1G;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench-error: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	size_t size;

	switch (*end) {
	case 'K': size = n << 10; break;
	case 'M': size = n << 20; break;
	case 'G': size = n << 30; break;
	default: die("size %s: needs a K, M or G suffix", s);
	}
	if (!size || (size & (size - 1)) || size < SZ_4K)
		die("size %s: must be a power of two of at least 4K", s);
	return size;
}

static int parse_sizes(char *list, size_t *sizes)
{
	char *save, *tok;
	int n = 0;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_SIZES)
			die("at most %d sizes", MAX_SIZES);
		sizes[n++] = parse_size(tok);
	}
	return n;
}

/* Writes one word in every page from @from: the first pass faults them in. */
static void touch_pages(char *p, size_t from, size_t size)
{
	size_t off;

	for (off = from; off < size; off += SZ_4K)
		*(volatile uint64_t *)(p + off) = off;
}

/* @reads random 8-byte loads; the sum keeps them from being optimised out. */
static uint64_t random_reads(const char *p, size_t size, unsigned long reads)
{
	const volatile uint64_t *words = (const volatile uint64_t *)p;
	uint64_t mask = size / sizeof(uint64_t) - 1;
	uint64_t x = 0x9e3779b97f4a7c15ULL, sum = 0;
	unsigned long i;

	for (i = 0; i < reads; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum += words[x & mask];
	}
	return sum;
}

static char *place(size_t misalign)
{
	uintptr_t base = (uintptr_t)reserve + SZ_1G;

	return (char *)(base / SZ_1G * SZ_1G + misalign);
}

static char *map(struct target *t, size_t size, size_t misalign)
{
	struct drm_qxl_map qmap = { .handle = t->bo };
	char *p;

	if (t->bo) {
		if (ioctl(t->fd, DRM_IOCTL_QXL_MAP, &qmap))
			die("DRM_IOCTL_QXL_MAP: %s", strerror(errno));
		t->offset = qmap.offset;
	}
	if (t->kernel_placed)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd,
			 t->offset);
	else
		p = mmap(place(misalign), size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, t->fd, t->offset);
	if (p == MAP_FAILED)
		die("mmap of %zu bytes of %s: %s", size, t->name, strerror(errno));
	return p;
}

static void unmap(struct target *t, char *p, size_t size)
{
	if (t->kernel_placed) {
		munmap(p, size);
		return;
	}
	/* Back to the reserve: zaps the device mapping. */
	if (mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
		 MAP_NORESERVE, -1, 0) == MAP_FAILED)
		die("unmap: %s", strerror(errno));
}

/* Kilobytes of page tables of this process (VmPTE), or -1. */
static long page_table_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static struct vmfir_stats handler_calls(struct target *t)
{
	struct vmfir_stats stats = { 0 };

	if (t->vmfir && ioctl(t->fd, VMFIR_IOC_STATS, &stats))
		die("VMFIR_IOC_STATS: %s", strerror(errno));
	return stats;
}

static void measure(struct target *t, const struct mode *mode, size_t size,
		    size_t misalign, int rep, unsigned long reads)
{
	struct vmfir_config cfg = { .mode = mode->vmfir };
	struct vmfir_stats calls;
	uint64_t t_map, t0, t_first, t1, t2, t3, sum;
	long faults, pt_before, pt_map, pt_first, pt_all;
	char *p;

	if (t->vmfir && ioctl(t->fd, VMFIR_IOC_CONFIG, &cfg))
		die("VMFIR_IOC_CONFIG mode %s: %s", mode->name, strerror(errno));
	pt_before = page_table_kb();
	t_map = now_ns();
	p = map(t, size, misalign);
	t_map = now_ns() - t_map;
	pt_map = page_table_kb();
	handler_calls(t);

	faults = minor_faults();
	t0 = now_ns();
	/* The first page alone: the latency of the first fault. */
	touch_pages(p, 0, SZ_4K);
	t_first = now_ns();
	pt_first = page_table_kb();
	touch_pages(p, SZ_4K, size);
	t1 = now_ns();
	faults = minor_faults() - faults;
	pt_all = page_table_kb();
	calls = handler_calls(t);

	touch_pages(p, 0, size);
	t2 = now_ns();
	sum = random_reads(p, size, reads);
	t3 = now_ns();
	unmap(t, p, size);

	printf("bench {\"target\":\"%s\",\"mode\":\"%s\",\"size\":%zu,"
	       "\"misalign\":%zu,\"va_2m_aligned\":%s,\"rep\":%d,"
	       "\"minor_faults\":%ld,", t->name, mode->name, size,
	       (uintptr_t)p % SZ_2M ? (uintptr_t)p % SZ_2M : misalign,
	       (uintptr_t)p % SZ_2M ? "false" : "true", rep, faults);
	if (t->vmfir)
		printf("\"fault_calls\":%llu,\"huge_fault_calls\":%llu,",
		       (unsigned long long)calls.faults,
		       (unsigned long long)calls.huge_faults);
	printf("\"map_ns\":%llu,\"page_tables_map_kb\":%ld,",
	       (unsigned long long)t_map, pt_map - pt_before);
	printf("\"page_tables_first_kb\":%ld,\"page_tables_kb\":%ld,",
	       pt_first - pt_before, pt_all - pt_before);
	printf("\"first_touch_ns\":%llu,\"first_pass_ns\":%llu,"
	       "\"second_pass_ns\":%llu,\"random_reads\":%lu,\"random_ns\":%llu,"
	       "\"checksum\":%llu}\n",
	       (unsigned long long)(t_first - t0), (unsigned long long)(t1 - t0),
	       (unsigned long long)(t2 - t1),
	       reads, (unsigned long long)(t3 - t2), (unsigned long long)sum);
	fflush(stdout);
}

static bool open_pfnmap(struct target *t, const char *path, const char *name,
			const struct mode *modes, int nr_modes, bool vmfir)
{
	struct vmfir_info info;

	*t = (struct target){ .name = name, .modes = modes, .nr_modes = nr_modes,
			      .vmfir = vmfir, .capacity = 2 * SZ_1G };
	t->fd = open(path, O_RDWR);
	if (t->fd < 0) {
		printf("# %s: %s: %s, not measured\n", name, path, strerror(errno));
		return false;
	}
	if (vmfir) {
		if (ioctl(t->fd, VMFIR_IOC_INFO, &info))
			die("VMFIR_IOC_INFO: %s", strerror(errno));
		if (info.phys % SZ_1G)
			die("%s: device memory at %#llx is not 1 GiB aligned",
			    path, (unsigned long long)info.phys);
		t->capacity = info.size;
	}
	printf("# %s: %s\n", name, path);
	return true;
}

/* The qxl DRM device with a BO of @size, or false. */
static bool open_qxl(struct target *t, size_t size)
{
	static const struct mode modes[] = { { "range", 0 } };
	char path[64], name[16];
	int i;

	*t = (struct target){ .name = "qxl-bo", .modes = modes, .nr_modes = 1,
			      .capacity = size };
	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };
		struct drm_qxl_alloc alloc = { .size = size };

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		t->fd = open(path, O_RDWR);
		if (t->fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (ioctl(t->fd, DRM_IOCTL_VERSION, &v) || strcmp(name, "qxl")) {
			close(t->fd);
			continue;
		}
		if (ioctl(t->fd, DRM_IOCTL_QXL_ALLOC, &alloc))
			die("DRM_IOCTL_QXL_ALLOC of %zu bytes: %s", size, strerror(errno));
		t->bo = alloc.handle;
		printf("# qxl-bo: %s, BO of %zu bytes\n", path, size);
		return true;
	}
	printf("# qxl-bo: no qxl DRM device, not measured\n");
	return false;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* Line @line of a PCI device's sysfs file @file, or false. */
static bool pci_sysfs_line(const char *bdf, const char *file, int line,
			   char *buf, size_t len)
{
	char path[PATH_MAX];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (line-- >= 0 && (found = fgets(buf, len, f)))
		;
	fclose(f);
	return found;
}

/*
 * The ivshmem-plain devices (1af4:1110) in bus order, with the name of the
 * driver bound to each ("" for none). Returns how many, at most @max.
 */
static int ivshmem_devices(char (*bdf)[NAME_MAX + 1], char (*driver)[NAME_MAX + 1],
			   int max)
{
	struct dirent **list;
	int n, i, found = 0;

	n = scandir("/sys/bus/pci/devices", &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		char vendor[16], device[16], path[PATH_MAX], link[PATH_MAX];
		const char *name = list[i]->d_name;
		ssize_t len;

		if (found < max &&
		    pci_sysfs_line(name, "vendor", 0, vendor, sizeof(vendor)) &&
		    pci_sysfs_line(name, "device", 0, device, sizeof(device)) &&
		    !strcmp(vendor, "0x1af4\n") && !strcmp(device, "0x1110\n")) {
			snprintf(bdf[found], sizeof(bdf[found]), "%s", name);
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", name);
			len = readlink(path, link, sizeof(link) - 1);
			link[len > 0 ? len : 0] = 0;
			snprintf(driver[found], sizeof(driver[found]), "%s",
				 len > 0 ? basename(link) : "");
			found++;
		}
		free(list[i]);
	}
	free(list);
	return found;
}

/*
 * The memory BAR of the first ivshmem device that no driver holds, bound to
 * vfio-pci in no-IOMMU mode and mapped whole, as QEMU maps a BAR for a
 * guest: mmap(NULL), no hint.
 */
static bool open_vfio(struct target *t, char *bdf)
{
	static const struct mode modes[] = { { "mmap-null", 0 } };
	char devices[4][NAME_MAX + 1], drivers[4][NAME_MAX + 1];
	struct vfio_region_info bar = { .argsz = sizeof(bar),
					.index = VFIO_PCI_BAR2_REGION_INDEX };
	char path[PATH_MAX], link[PATH_MAX];
	int n, i, container, group;
	ssize_t len;

	*t = (struct target){ .name = "vfio-pci", .modes = modes, .nr_modes = 1,
			      .kernel_placed = true, .whole = true };
	n = ivshmem_devices(devices, drivers, 4);
	for (i = 0; i < n && drivers[i][0]; i++)
		;
	if (i == n) {
		printf("# vfio-pci: no ivshmem-plain device without a driver, not measured\n");
		return false;
	}
	strcpy(bdf, devices[i]);
	if (write_text(NOIOMMU_PARAM, "Y")) {
		printf("# vfio-pci: %s: %s, not measured\n", NOIOMMU_PARAM, strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_text(path, "vfio-pci") || write_text("/sys/bus/pci/drivers_probe", bdf))
		die("binding %s to vfio-pci failed", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		die("%s: %s", path, strerror(errno));
	link[len] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/noiommu-%s", basename(link));

	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		die("opening /dev/vfio/vfio and %s: %s", path, strerror(errno));
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU))
		die("%s: no-IOMMU container: %s", path, strerror(errno));
	t->fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (t->fd < 0 || ioctl(t->fd, VFIO_DEVICE_GET_REGION_INFO, &bar))
		die("%s: vfio device: %s", bdf, strerror(errno));
	t->offset = bar.offset;
	t->capacity = bar.size;
	printf("# vfio-pci: %s, BAR %d of %llu bytes\n", bdf, IVSHMEM_BAR,
	       (unsigned long long)bar.size);
	return true;
}

/*
 * The memory BAR of the last ivshmem device, other than @vfio_bdf, through
 * /dev/mem: remap_pfn_range() maps it all in mmap().
 */
static bool open_devmem(struct target *t, const char *vfio_bdf)
{
	static const struct mode modes[] = { { "remap", 0 } };
	char devices[4][NAME_MAX + 1], drivers[4][NAME_MAX + 1], line[128];
	unsigned long long start, end;
	int n;

	*t = (struct target){ .name = "devmem", .modes = modes, .nr_modes = 1 };
	n = ivshmem_devices(devices, drivers, 4);
	while (n > 0 && !strcmp(devices[n - 1], vfio_bdf))
		n--;
	if (!n) {
		printf("# devmem: no ivshmem-plain device left, not measured\n");
		return false;
	}
	if (!pci_sysfs_line(devices[n - 1], "resource", IVSHMEM_BAR, line, sizeof(line)) ||
	    sscanf(line, "%llx %llx", &start, &end) != 2 || !start)
		die("%s: no BAR %d in sysfs", devices[n - 1], IVSHMEM_BAR);
	t->fd = open(DEVMEM, O_RDWR | O_SYNC);
	if (t->fd < 0) {
		printf("# devmem: %s: %s, not measured\n", DEVMEM, strerror(errno));
		return false;
	}
	t->offset = start;
	t->capacity = end - start + 1;
	printf("# devmem: %s, BAR %d of %s at %#llx\n", DEVMEM, IVSHMEM_BAR,
	       devices[n - 1], start);
	return true;
}

/*
 * The first touch of device memory costs the host more than the guest: QEMU
 * backs the BAR with host memory allocated on first use. Every target's
 * memory is touched once through its fastest path before measuring.
 */
static void warm_up(struct target *t, size_t size)
{
	struct vmfir_config cfg = { .mode = VMFIR_MODE_RANGE };
	char *p;

	if (t->vmfir && ioctl(t->fd, VMFIR_IOC_CONFIG, &cfg))
		die("VMFIR_IOC_CONFIG: %s", strerror(errno));
	p = map(t, size, 0);
	touch_pages(p, 0, size);
	random_reads(p, size, size / SZ_4K);
	unmap(t, p, size);
}

static void usage(void)
{
	die("usage: vmf_insert_range_bench -r REPS -n RANDOM_READS -s SIZE[,SIZE...] [-m SIZE[,SIZE...]] [-q SIZE]");
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct target targets[5];
	char vfio_bdf[NAME_MAX + 1] = "";
	int nr_targets = 0, opt, rep, s, i, m;

	while ((opt = getopt(argc, argv, "r:n:s:m:q:")) != -1) {
		switch (opt) {
		case 'r': o.reps = atoi(optarg); break;
		case 'n': o.random_reads = strtoul(optarg, NULL, 10); break;
		case 's': o.nr_sizes = parse_sizes(optarg, o.sizes); break;
		case 'm': o.nr_misaligned = parse_sizes(optarg, o.misaligned); break;
		case 'q': o.qxl_size = parse_size(optarg); break;
		default: usage();
		}
	}
	if (o.reps < 1 || !o.random_reads || !o.nr_sizes)
		usage();

	reserve = mmap(NULL, reserve_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (reserve == MAP_FAILED)
		die("reserving address space: %s", strerror(errno));

	printf("# vmf_insert_range bench: %d repetitions, %lu random reads\n",
	       o.reps, o.random_reads);
	if (open_pfnmap(&targets[nr_targets], C_DRIVER, "c-driver", c_driver_modes,
			sizeof(c_driver_modes) / sizeof(c_driver_modes[0]), true))
		nr_targets++;
	if (open_pfnmap(&targets[nr_targets], RUST_SAMPLE, "rust-sample", range_only,
			1, false))
		nr_targets++;
	if (o.qxl_size && open_qxl(&targets[nr_targets], o.qxl_size))
		nr_targets++;
	if (open_vfio(&targets[nr_targets], vfio_bdf))
		nr_targets++;
	if (open_devmem(&targets[nr_targets], vfio_bdf))
		nr_targets++;
	if (!nr_targets)
		die("no device to measure");

	for (i = 0; i < nr_targets; i++) {
		size_t largest = targets[i].bo ? o.qxl_size :
				 targets[i].whole ? targets[i].capacity : 0;

		for (s = 0; s < o.nr_sizes + o.nr_misaligned; s++) {
			size_t size = s < o.nr_sizes ? o.sizes[s] : o.misaligned[s - o.nr_sizes];

			if (size <= targets[i].capacity && size > largest)
				largest = size;
		}
		warm_up(&targets[i], largest);
	}

	/* Repetitions outermost: drift over the run hits every mode alike. */
	for (rep = 0; rep < o.reps; rep++) {
		for (i = 0; i < nr_targets; i++) {
			struct target *t = &targets[i];

			for (s = 0; s < o.nr_sizes + o.nr_misaligned; s++) {
				bool aligned = s < o.nr_sizes;
				size_t size = aligned ? o.sizes[s] : o.misaligned[s - o.nr_sizes];

				if (t->bo && (!aligned || size != o.qxl_size))
					continue;
				if (t->whole && s)
					continue;
				if (t->whole)
					size = t->capacity;
				if (size > t->capacity)
					continue;
				for (m = 0; m < t->nr_modes; m++)
					measure(t, &t->modes[m], size, aligned ? 0 : SZ_4K,
						rep, o.random_reads);
			}
		}
	}
	printf("# done\n");
	return 0;
}
