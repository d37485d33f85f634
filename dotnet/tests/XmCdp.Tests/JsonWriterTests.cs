using System.Globalization;
using System.Threading;
using NUnit.Framework;
using XmCdp.Events;
using XmCdp.Json;

namespace XmCdp.Tests
{
    [TestFixture]
    public class JsonWriterTests
    {
        [Test]
        public void String_EscapesQuotesBackslashesAndControlCharacters()
        {
            var json = new JsonWriter().StartObject().Name("k").String("a\"b\\c\n\u0001\u2028é").EndObject().ToString();
            Assert.That(json, Is.EqualTo("{\"k\":\"a\\\"b\\\\c\\n\\u0001\\u2028é\"}"));
        }

        [Test]
        public void Numbers_UseInvariantCultureWhateverTheThreadCulture()
        {
            var saved = Thread.CurrentThread.CurrentCulture;
            try
            {
                Thread.CurrentThread.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
                var json = new JsonWriter().StartArray().Number(100.5).Number(-3L).Bool(true).Null().EndArray().ToString();
                Assert.That(json, Is.EqualTo("[100.5,-3,true,null]"));
            }
            finally
            {
                Thread.CurrentThread.CurrentCulture = saved;
            }
        }

        [Test]
        public void Property_OmitsNullValues()
        {
            var json = new JsonWriter().StartObject().Property("a", null).Property("b", "x").EndObject().ToString();
            Assert.That(json, Is.EqualTo("{\"b\":\"x\"}"));
        }

        [Test]
        public void ExtensionData_KeepsInsertionOrderAndReplacesDuplicates()
        {
            var ext = new CdpExtensionData().Set("b", "1").Set("a", 2L).Set("b", true).Set("c", 0.25);
            Assert.That(ext.ToJsonOrNull(), Is.EqualTo("{\"b\":true,\"a\":2,\"c\":0.25}"));
            Assert.That(new CdpExtensionData().ToJsonOrNull(), Is.Null);
        }
    }

    [TestFixture]
    public class CdpStatsTests
    {
        [Test]
        public void TryGetNumber_FollowsDottedPathsOnly()
        {
            var stats = new CdpStats("{\"events\":{\"enqueued\":3,\"label\":\"x\",\"dropped\":{\"queue_full\":-2},\"list\":[{\"enqueued\":9}]},\"enqueued\":7,\"lat\":1.5e1}");
            double v;
            Assert.That(stats.TryGetNumber("events.enqueued", out v), Is.True);
            Assert.That(v, Is.EqualTo(3));
            Assert.That(stats.TryGetNumber("enqueued", out v), Is.True);
            Assert.That(v, Is.EqualTo(7));
            Assert.That(stats.TryGetNumber("events.dropped.queue_full", out v), Is.True);
            Assert.That(v, Is.EqualTo(-2));
            Assert.That(stats.TryGetNumber("lat", out v), Is.True);
            Assert.That(v, Is.EqualTo(15));
            Assert.That(stats.TryGetNumber("events.label", out v), Is.False);
            Assert.That(stats.TryGetNumber("events.missing", out v), Is.False);
            Assert.That(stats.TryGetNumber("dropped.queue_full", out v), Is.False);
        }
    }

    [TestFixture]
    public class CdpStatusTests
    {
        [TestCase(CdpStatus.Ok, CdpStatusGroup.Ok)]
        [TestCase(CdpStatus.UnknownKey, CdpStatusGroup.Configuration)]
        [TestCase(CdpStatus.InvalidEmail, CdpStatusGroup.EventValidation)]
        [TestCase(CdpStatus.QueueFull, CdpStatusGroup.Queue)]
        [TestCase(CdpStatus.Panic, CdpStatusGroup.Fatal)]
        [TestCase(CdpStatus.LibraryNotLoaded, CdpStatusGroup.Managed)]
        public void Group_IsTheTensDigit(CdpStatus status, CdpStatusGroup group)
        {
            Assert.That(status.Group(), Is.EqualTo(group));
        }
    }
}
