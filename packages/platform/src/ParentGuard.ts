/**
 * Loaded into every service the runner starts (`node --import`): the runner holds an IPC channel
 * to it, and when the runner dies without stopping it (`kill -9`, a crash), the channel closes
 * and the service drains and exits as on SIGTERM, rather than running on unsupervised, holding
 * its port.
 */
process.channel?.unref()
process.once("disconnect", () => process.kill(process.pid, "SIGTERM"))
