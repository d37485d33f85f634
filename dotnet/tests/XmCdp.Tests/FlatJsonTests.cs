using System.Collections.Generic;
using NUnit.Framework;
using XmCdp.Guests;
using XmCdp.Json;

namespace XmCdp.Tests
{
    /// <summary>The reader behind CdpGuests.ExtensionValues / RefOf / RefsOf: primitives kept, nested values skipped.</summary>
    [TestFixture]
    public class FlatJsonTests
    {
        [Test]
        public void ReadObject_KeepsPrimitives_SkipsNestedValues_AndDecodesEscapes()
        {
            var v = FlatJson.ReadObject(
                "{ \"s\": \"a\\\"b\\\\c\\u00e9\\n\", \"i\": -42, \"d\": 1.5e2, \"t\": true, \"f\": false, \"n\": null,"
                + " \"o\": {\"x\": [1, {\"y\": \"}]\"}]}, \"a\": [\"{\", 2], \"last\": \"z\" }");
            Assert.That(v["s"], Is.EqualTo("a\"b\\c\u00e9\n"));
            Assert.That(v["i"], Is.EqualTo(-42L));
            Assert.That(v["d"], Is.EqualTo(150.0));
            Assert.That(v["t"], Is.EqualTo(true));
            Assert.That(v["f"], Is.EqualTo(false));
            Assert.That(v.ContainsKey("n") && v["n"] == null, Is.True);
            Assert.That(v.ContainsKey("o") || v.ContainsKey("a"), Is.False);
            Assert.That(v["last"], Is.EqualTo("z"));
            Assert.That(FlatJson.ReadObject("{}"), Is.Empty);
            Assert.Throws<System.FormatException>(() => FlatJson.ReadObject("{\"a\":"));
            Assert.Throws<System.FormatException>(() => FlatJson.ReadObject("[1]"));
        }

        [Test]
        public void RefsOf_ReadsItemHrefsOnly()
        {
            var collection = "{\"href\":\"http://h/v2.1/guests?offset=0&limit=10&email=a%40b.co\",\"offset\":0,\"limit\":10,\"items\":["
                + "{\"href\":\"http://h/v2.1/guests/0f8e2d1c-1111\",\"extensions\":{\"href\":\"http://h/v2.1/guests/0f8e2d1c-1111/extensions\"}},"
                + "{\"href\":\"http://h/v2.1/guests/abc-2\"}]}";
            Assert.That(CdpGuests.RefsOf(collection), Is.EqualTo(new List<string> { "0f8e2d1c-1111", "abc-2" }));
            Assert.That(CdpGuests.RefsOf("{\"items\":[]}"), Is.Empty);
            Assert.That(CdpGuests.RefOf("{\"href\":\"x\",\"ref\":\"abc-1\",\"identifiers\":[{\"ref\":\"no\"}]}"), Is.EqualTo("abc-1"));
        }
    }
}
