using System;

namespace XmCdp.Native
{
    /// <summary>The native log queue, drained by <see cref="XmCdp.Logging.NativeLogPump"/>.</summary>
    internal static unsafe partial class NativeCalls
    {
        internal static int LogNext(uint timeoutMs, byte[] buf, out uint level, out int len)
        {
            ulong l;
            int status;
            fixed (byte* b = buf)
            {
                status = (int)Interop.xmcdp_log_next(timeoutMs, out level, (IntPtr)b, (ulong)buf.Length, out l);
            }
            len = checked((int)l);
            return status;
        }
    }
}
