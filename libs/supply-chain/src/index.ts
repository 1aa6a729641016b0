export * from './oci';
export * from './registry-client';
export * from './signing';
export * from './keyless';
export * from './sbom';
export * from './package-artifact';
export * from './verify-artifact';
