import { createSocket } from 'node:dgram';

/** One UDP exchange from a fresh socket: the first reply carrying the query's ID, or a rejection after `timeoutMs`. */
export function udpExchange(port: number, message: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const id = message.readUInt16BE(0);
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP reply from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(message, port, '127.0.0.1');
  });
}
