using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("XmCdp.Sitecore.Tests")]
