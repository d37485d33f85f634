using System;
using System.Collections.Generic;
using System.Reflection;

namespace XmCdp.Sitecore.Tests
{
    /// <summary>Finds the methods of an assembly whose IL calls a method matching a predicate (call/callvirt/newobj).</summary>
    internal static class IlCalls
    {
        public static List<string> Find(Assembly assembly, Func<MethodBase, bool> callee)
        {
            var found = new List<string>();
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var type in assembly.GetTypes())
            {
                var methods = new List<MethodBase>(type.GetMethods(all));
                methods.AddRange(type.GetConstructors(all));
                foreach (var m in methods)
                {
                    var body = m.GetMethodBody();
                    if (body == null) continue;
                    var il = body.GetILAsByteArray();
                    // A byte-wise scan may see an opcode inside an operand; only tokens that resolve to a matching
                    // method count, so a misread can add no false positive of practical concern.
                    for (int i = 0; i + 4 < il.Length; i++)
                    {
                        if (il[i] != 0x28 && il[i] != 0x6F && il[i] != 0x73) continue;
                        int token = BitConverter.ToInt32(il, i + 1);
                        int table = (int)((uint)token >> 24);
                        if (table != 0x06 && table != 0x0A && table != 0x2B) continue;
                        try
                        {
                            var target = type.Module.ResolveMethod(token, type.IsGenericType ? type.GetGenericArguments() : null,
                                m.IsGenericMethod ? m.GetGenericArguments() : null);
                            if (target != null && callee(target)) found.Add(type.FullName + "." + m.Name + " calls " + target.DeclaringType.Name + "." + target.Name);
                        }
                        catch (ArgumentException)
                        {
                        }
                        catch (BadImageFormatException)
                        {
                        }
                    }
                }
            }
            return found;
        }
    }
}
