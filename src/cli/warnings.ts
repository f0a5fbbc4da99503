// The command's one process-wide choice about warnings: an application
// may make it, a library may not. grpc gives Node's TLS an etcd endpoint's
// IP address as the server name, and Node then prints a deprecation warning
// (DEP0123) on stderr, which would break a daemon's one-line errors and
// JSON logs. Only that warning is dropped; the certificate is still checked
// against the IP address (src/subnet/etcd/etcd-connection.ts).

/** Drops DEP0123 for the rest of this process; every other warning is emitted as before. */
export function dropIpServernameWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const options = args[1];
    const code = typeof options === 'object' && options !== null ? (options as { code?: string }).code : args[2];
    if (code === 'DEP0123') return;
    emit(...args);
  }) as typeof process.emitWarning;
}
