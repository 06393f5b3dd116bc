// SPDX-License-Identifier: GPL-2.0
/*
 * kheaders: serve the in-kernel headers archive (CONFIG_IKHEADERS).
 *
 * The archive is linked in by the stub that `kheaders gen --stub` (or
 * `kheaders stub`) writes: kernel_headers_data .. kernel_headers_data_end
 * in .rodata, between the IKHD_ST and IKHD_ED markers. It is served,
 * read-only, at two places:
 *
 *   /sys/kernel/kheaders.tar.xz   where bcc, bpftrace and friends look
 *   /proc/kheaders.tar.xz         as first proposed, next to config.gz
 *
 * The same file works as a module (kernel/Kbuild and kernel/Makefile of
 * the kheaders project build it out of tree, as kheaders_main.o next to
 * kheaders_data.o assembled from the stub) and in-tree in place of the
 * kernel's kernel/kheaders.c, where the data comes from
 * asm(".include \"kernel/kheaders_data.S\"") or a separate object.
 *
 * Both symbols are arrays: declared as a single char, FORTIFY_SOURCE
 * sees a one-byte object and panics on the first copy. Every read is
 * bounded by the archive's size here, whatever sysfs or procfs already
 * clamp, and nothing is writable: mode 0444, no write operation.
 */

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/version.h>
#include <linux/fs.h>

extern const char kernel_headers_data[];
extern const char kernel_headers_data_end[];

#define KHEADERS_NAME "kheaders.tar.xz"

static size_t kheaders_size(void)
{
	return (size_t)(kernel_headers_data_end - kernel_headers_data);
}

/*
 * bin_attribute::read changed twice: 6.13 added read_new() taking a
 * const attribute, 6.16 made read() itself take it and dropped
 * read_new(). Only the 6.1 form is built and booted by the kheaders
 * tests; the others follow the kernel's headers of those versions.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define KHEADERS_BIN_CONST const
#else
#define KHEADERS_BIN_CONST
#endif

static ssize_t kheaders_sysfs_read(struct file *file, struct kobject *kobj,
				   KHEADERS_BIN_CONST struct bin_attribute *attr,
				   char *buf, loff_t off, size_t len)
{
	size_t size = kheaders_size();

	if (off < 0)
		return -EINVAL;
	if ((u64)off >= size)
		return 0;
	len = min_t(size_t, len, size - (size_t)off);
	memcpy(buf, kernel_headers_data + off, len);
	return len;
}

static struct bin_attribute kheaders_attr __ro_after_init = {
	.attr = {
		.name = KHEADERS_NAME,
		.mode = 0444,
	},
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0) && \
	LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
	.read_new = kheaders_sysfs_read,
#else
	.read = kheaders_sysfs_read,
#endif
};

#ifdef CONFIG_PROC_FS
/* simple_read_from_buffer() clamps to the size and copies to user. */
static ssize_t kheaders_proc_read(struct file *file, char __user *buf,
				  size_t len, loff_t *off)
{
	return simple_read_from_buffer(buf, len, off, kernel_headers_data,
				       kheaders_size());
}

static const struct proc_ops kheaders_proc_ops = {
	.proc_read = kheaders_proc_read,
	.proc_lseek = default_llseek,
};

static int __init kheaders_proc_init(void)
{
	struct proc_dir_entry *pde;

	pde = proc_create(KHEADERS_NAME, S_IFREG | 0444, NULL,
			  &kheaders_proc_ops);
	if (!pde)
		return -ENOMEM;
	/* stat(2) and SEEK_END see the archive's size, as for config.gz. */
	proc_set_size(pde, kheaders_size());
	return 0;
}

static void kheaders_proc_exit(void)
{
	remove_proc_entry(KHEADERS_NAME, NULL);
}
#else
static int __init kheaders_proc_init(void)
{
	return 0;
}

static void kheaders_proc_exit(void)
{
}
#endif

static int __init kheaders_init(void)
{
	int ret;

	kheaders_attr.size = kheaders_size();
	ret = sysfs_create_bin_file(kernel_kobj, &kheaders_attr);
	if (ret)
		return ret;
	ret = kheaders_proc_init();
	if (ret)
		sysfs_remove_bin_file(kernel_kobj, &kheaders_attr);
	return ret;
}

static void __exit kheaders_exit(void)
{
	kheaders_proc_exit();
	sysfs_remove_bin_file(kernel_kobj, &kheaders_attr);
}

module_init(kheaders_init);
module_exit(kheaders_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The kernel's headers at /sys/kernel/kheaders.tar.xz and /proc/kheaders.tar.xz");
