// Makes Debian's xsp4.exe 4.2 start on Mono 6.8 (see spec/mono-host-notes.md, option 1): copies it, points the
// five type references into the removed Mono.Security.Protocol.Tls namespace at XmCdp.XspTlsStub, drops the
// strong name (the copy is no longer the signed original) and writes the result to a private folder that the
// test host puts first on MONO_PATH. Test tooling only: run at test setup, nothing binary is committed.
//
// usage: mono XspPatch.exe <original xsp4.exe> <XmCdp.XspTlsStub.dll> <output folder>
using System;
using System.IO;
using System.Linq;
using Mono.Cecil;

internal static class XspPatch
{
    private const string TlsNamespace = "Mono.Security.Protocol.Tls";

    private static int Main(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: XspPatch.exe <xsp4.exe> <XmCdp.XspTlsStub.dll> <output folder>");
            return 2;
        }
        var source = args[0];
        var stubPath = args[1];
        var outDir = args[2];
        Directory.CreateDirectory(outDir);

        var stub = AssemblyDefinition.ReadAssembly(stubPath);
        var stubRef = new AssemblyNameReference(stub.Name.Name, stub.Name.Version);

        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(stubPath)));
        using (var xsp = AssemblyDefinition.ReadAssembly(source, new ReaderParameters { AssemblyResolver = resolver }))
        {
            var module = xsp.MainModule;
            module.AssemblyReferences.Add(stubRef);
            int patched = 0;
            foreach (var tr in module.GetTypeReferences().Where(t => t.Namespace == TlsNamespace).ToList())
            {
                if (stub.MainModule.GetType(tr.FullName) == null)
                {
                    Console.Error.WriteLine("XspPatch: the stub lacks " + tr.FullName);
                    return 1;
                }
                tr.Scope = stubRef;
                patched++;
            }
            if (patched == 0)
            {
                Console.Error.WriteLine("XspPatch: no " + TlsNamespace + " references found; is this xsp4.exe already fixed?");
            }

            // The copy is modified, so its signature is void: make it an unsigned assembly.
            xsp.Name.PublicKey = new byte[0];
            xsp.Name.HasPublicKey = false;
            module.Attributes &= ~ModuleAttributes.StrongNameSigned;

            var target = Path.Combine(outDir, Path.GetFileName(source));
            xsp.Write(target);
            Console.WriteLine("XspPatch: retargeted " + patched + " type references; wrote " + target);
        }
        File.Copy(stubPath, Path.Combine(outDir, Path.GetFileName(stubPath)), true);
        return 0;
    }
}
