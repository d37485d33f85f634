namespace XmCdp
{
    /// <summary>What a native client's shutdown achieved (the <c>shutdown</c> object of its stats).</summary>
    public sealed class CdpShutdownReport
    {
        internal CdpShutdownReport(long delivered, long unsent, long spooled)
        {
            Delivered = delivered;
            Unsent = unsent;
            Spooled = spooled;
        }

        /// <summary>Events delivered while draining.</summary>
        public long Delivered { get; }
        /// <summary>Events accepted but not delivered by the deadline.</summary>
        public long Unsent { get; }
        /// <summary>Of <see cref="Unsent"/>, how many the durable spool kept for the next start; the rest are lost.</summary>
        public long Spooled { get; }

        public override string ToString() => Delivered + " delivered while draining, " + Unsent + " unsent, " + Spooled + " of them spooled";
    }

    public sealed partial class CdpStats
    {
        /// <summary>The shutdown report, or null while the client has not (completely) shut down.</summary>
        public CdpShutdownReport Shutdown
        {
            get
            {
                double unsent;
                if (!TryGetNumber("shutdown.unsent", out unsent)) return null;
                return new CdpShutdownReport(Long("shutdown.delivered"), (long)unsent, Long("shutdown.spooled"));
            }
        }

        /// <summary>Whether the durable spool is on (a <c>spoolDirectory</c> is set).</summary>
        public bool SpoolEnabled => Json.Contains("\"spool\":{\"enabled\":true");

        /// <summary>Events written to the spool since the client started.</summary>
        public long SpoolSpooled => Long("spool.spooled");
        /// <summary>Spooled events replayed (delivered) since the client started.</summary>
        public long SpoolReplayed => Long("spool.replayed");
        /// <summary>Events in the spool now, waiting for delivery or for the next start.</summary>
        public long SpoolDepth => Long("spool.depth");
        /// <summary>Spooled events evicted by the disk cap (lost).</summary>
        public long SpoolEvicted => Long("spool.evicted");
        /// <summary>When the oldest event still in the spool was accepted (UTC), or null when the spool is empty or off:
        /// how far behind delivery is during an outage.</summary>
        public System.DateTime? SpoolOldestAcceptedUtc
        {
            get
            {
                double ms;
                if (!TryGetNumber("spool.oldest_accepted_unix_ms", out ms) || ms <= 0) return null;
                return new System.DateTime(1970, 1, 1, 0, 0, 0, System.DateTimeKind.Utc).AddMilliseconds(ms);
            }
        }

        private long Long(string path)
        {
            double v;
            return TryGetNumber(path, out v) ? (long)v : 0;
        }
    }
}
