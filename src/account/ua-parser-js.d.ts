// ua-parser-js 1.x ships no typings; only what src/account/devices.ts reads.
declare module 'ua-parser-js' {
  interface Named { name?: string; version?: string }
  interface Result { browser: Named; os: Named; device: { vendor?: string; model?: string; type?: string } }
  const UAParser: { new (ua?: string): { getResult(): Result } };
  export default UAParser;
}
