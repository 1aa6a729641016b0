// Messages between the S3 connector and its download worker (s3-download.worker.ts).

/** What the worker is started with (workerData). */
export interface DownloadJob {
  client: {
    region: string;
    forcePathStyle: boolean;
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  };
  bucket: string;
  key: string;
  /** The local file the object streams to. */
  path: string;
  maxBytes: number;
}

/** An address the egress policy admitted (dns.LookupAddress). */
export interface Address {
  address: string;
  family: number;
}

/** The worker asks the connector's thread to resolve a name through the egress policy. */
export interface LookupRequest {
  type: 'lookup';
  id: number;
  hostname: string;
}
export interface LookupReply {
  type: 'lookup';
  id: number;
  addresses?: Address[];
  error?: { message: string; code?: string };
}

/** An SDK or stream error, as far as the connector maps it (S3ServiceException's fields). */
export interface WireError {
  name: string;
  message: string;
  /** HTTP status of an S3 service error; absent for a stream or network error. */
  status?: number;
  serviceError: boolean;
}

export type WorkerMessage =
  | LookupRequest
  | { type: 'too_large'; contentLength: number }
  | { type: 'done' }
  | { type: 'error'; error: WireError };
