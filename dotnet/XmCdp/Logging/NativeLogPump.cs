using System;
using System.Text;
using System.Threading;
using XmCdp.Native;

namespace XmCdp.Logging
{
    /// <summary>Native log levels (the numbering of <c>xmcdp_log_next</c>'s level out-parameter).</summary>
    public enum CdpLogLevel
    {
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }

    /// <summary>Where native log records go (Sitecore's log, a test list, the console).</summary>
    public interface ICdpLogSink
    {
        /// <summary>Called on the pump thread only; must not block for long. Exceptions are swallowed.</summary>
        void Write(CdpLogLevel level, string message);
    }

    /// <summary>
    /// Drains the native log queue on one managed background thread by polling <c>xmcdp_log_next</c> with a
    /// timeout. Native code never calls into the CLR: after an AppDomain recycle the DLL is still loaded, and a
    /// callback into the unloaded domain would crash the worker process. The native queue is process-wide, so
    /// there is one pump per AppDomain, started once and stopped at shutdown.
    /// </summary>
    public static class NativeLogPump
    {
        private const uint PollTimeoutMs = 250;
        private static readonly object Gate = new object();
        private static Thread s_thread;
        private static volatile bool s_stop;
        private static volatile ICdpLogSink s_sink;

        public static bool IsRunning
        {
            get { lock (Gate) return s_thread != null; }
        }

        /// <summary>Starts the pump (or swaps the sink of a running pump).</summary>
        public static void Start(ICdpLogSink sink)
        {
            if (sink == null) throw new ArgumentNullException(nameof(sink));
            lock (Gate)
            {
                s_sink = sink;
                if (s_thread != null) return;
                NativeLibraryLoader.EnsureLoaded();
                s_stop = false;
                s_thread = new Thread(Run) { IsBackground = true, Name = "XmCdp log pump" };
                s_thread.Start();
            }
        }

        /// <summary>Stops the pump; returns false if the thread did not finish within <paramref name="timeout"/>.</summary>
        public static bool Stop(TimeSpan timeout)
        {
            Thread t;
            lock (Gate)
            {
                t = s_thread;
                if (t == null) return true;
                s_stop = true;
                s_thread = null;
            }
            return t.Join(timeout);
        }

        private static void Run()
        {
            var buf = new byte[4096];
            while (!s_stop)
            {
                uint level;
                int len;
                int status;
                try
                {
                    status = NativeCalls.LogNext(PollTimeoutMs, buf, out level, out len);
                }
                catch (Exception e)
                {
                    Deliver(CdpLogLevel.Error, "XmCdp: log pump stopped: " + e.GetType().Name + ": " + e.Message);
                    return;
                }

                if (status == (int)CdpStatus.Ok)
                {
                    Deliver(ToLevel(level), Encoding.UTF8.GetString(buf, 0, Math.Min(len, buf.Length)));
                }
                else if (status == (int)CdpStatus.BufferTooSmall && len > buf.Length)
                {
                    // The record stays queued natively; fetch it again with a buffer of the reported size.
                    buf = new byte[len];
                }
                else if (status != (int)CdpStatus.NoRecord)
                {
                    // Unexpected status (e.g. a panic caught natively): back off instead of spinning.
                    Deliver(CdpLogLevel.Warn, "XmCdp: xmcdp_log_next returned status " + status);
                    Thread.Sleep(1000);
                }
            }
        }

        private static CdpLogLevel ToLevel(uint level)
        {
            return level >= 1 && level <= 5 ? (CdpLogLevel)level : CdpLogLevel.Info;
        }

        private static void Deliver(CdpLogLevel level, string message)
        {
            var sink = s_sink;
            if (sink == null) return;
            try
            {
                sink.Write(level, message);
            }
            catch (Exception)
            {
                // A faulty sink must not end the pump.
            }
        }
    }
}
